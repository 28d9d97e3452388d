package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
)

func newApplyCommand() *cobra.Command {
	var f clientFlags
	var file string
	var prune, dryRun bool
	c := &cobra.Command{
		Use:   "apply -f FILE [--prune] [--dry-run]",
		Short: "Push the endpoints of a config file to a running server and print the diff",
		Long: `Read the endpoints: list of FILE (a Glassbox config file; other sections are
ignored), validate it locally, and send it to the server, which validates every
endpoint against the schema and its policies before changing anything: one bad
endpoint refuses the whole apply and the running endpoints stay as they are.
Endpoints in the file are created or updated; with --prune, endpoints the
server has and the file lacks are deleted. --dry-run prints the diff only.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("apply needs -f FILE")
			}
			cfg, err := config.Load(file)
			if err != nil {
				return err
			}
			var decls []any
			for i := range cfg.Endpoints {
				b, err := config.MarshalEndpoint(&cfg.Endpoints[i])
				if err != nil {
					return err
				}
				var m map[string]any
				if err := yaml.Unmarshal(b, &m); err != nil {
					return err
				}
				decls = append(decls, m)
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			var diff map[string]any
			if err := cl.do(http.MethodPost, "/api/v1/endpoints:apply", map[string]any{"endpoints": decls, "prune": prune, "dry_run": dryRun}, &diff); err != nil {
				return err
			}
			printDiff(c.OutOrStdout(), diff, dryRun)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVarP(&file, "file", "f", "", "config file whose endpoints to apply")
	c.Flags().BoolVar(&prune, "prune", false, "delete endpoints the file does not declare")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change, change nothing")
	return c
}

// printDiff prints the server's apply answer: lists of endpoint names per
// kind of change.
func printDiff(w io.Writer, diff map[string]any, dryRun bool) {
	verb := "applied"
	if dryRun {
		verb = "would apply (dry run)"
	}
	fmt.Fprintf(w, "%s:\n", verb)
	for _, k := range []struct{ key, mark string }{{"created", "+"}, {"updated", "~"}, {"deleted", "-"}, {"unchanged", "="}} {
		list, _ := diff[k.key].([]any)
		for _, v := range list {
			name := v
			if m, ok := v.(map[string]any); ok {
				name = m["name"]
			}
			fmt.Fprintf(w, "  %s %v\n", k.mark, name)
		}
	}
}

func newRolesCommand() *cobra.Command {
	c := &cobra.Command{Use: "roles", Short: "Explain the built-in and custom roles"}
	var cfgPath string
	explain := &cobra.Command{
		Use:   "explain ROLE",
		Short: "Print what a role may and may never do",
		Long: `Print every action ROLE grants (and on which endpoints) and every action it
never grants. Built-in roles: admin, ml-engineer, data-scientist, auditor,
invoker, viewer; --config adds the file's custom roles.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg := config.Default()
			if cfgPath != "" {
				var err error
				if cfg, err = config.Load(cfgPath); err != nil {
					return err
				}
			}
			authz, err := newAuthorizer(cfg)
			if err != nil {
				return err
			}
			text, err := authz.Explain(args[0])
			if err != nil {
				return err
			}
			fmt.Fprint(c.OutOrStdout(), text)
			return nil
		},
	}
	explain.Flags().StringVarP(&cfgPath, "config", "c", "", "config file with custom roles")
	c.AddCommand(explain)
	return c
}

func newCapturesReindexCommand() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "reindex --config FILE",
		Short: "Rebuild the capture index from the blob store",
		Long: `Read every capture object under storage.blob and (re)index each record in the
metadata store: event id, inference id, endpoint, variant, time, status and
location. Safe to run while Glassbox serves: entries are replaced, not added.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("reindex needs --config FILE")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			ctx := c.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			bucket, err := openBucket(ctx, cfg.Storage.Blob, cfg.Storage.S3)
			if err != nil {
				return err
			}
			db, err := openMetadata(ctx, cfg, nil)
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := capture.Reindex(ctx, &capture.Reader{Bucket: wrapReader(ctx, cfg, bucket)}, db, func(objects, records int) {
				if objects%100 == 0 {
					fmt.Fprintf(c.ErrOrStderr(), "\r%d objects, %d records", objects, records)
				}
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "\rindexed %d records from %s\n", n, bucket)
			return nil
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "config file (storage.blob and storage.metadata)")
	return c
}
