package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func newConfigCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Work with Glassbox config files",
	}
	c.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a config file: unknown keys, types, ${ENV} references and rules",
		Long: `Parse FILE strictly and report every problem with its field path, for
example "endpoints[0].capture.sampling_percent: must be between 0 and 100".
Exits 0 when the file is valid, 1 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return err
			}
			if _, err := gatewayEndpoints(cfg); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: valid (%d endpoints)\n", args[0], len(cfg.Endpoints))
			return nil
		},
	})
	return c
}
