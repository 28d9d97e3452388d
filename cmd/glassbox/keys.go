package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/keys"
)

func newKeysCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Manage the keys of encryption at rest",
		Long: `Manage the key provider configured in the keys section: list the key versions
of a local keyring, or rotate it. Encrypted capture objects are described in
docs/formats/encrypted-object.md.`,
	}
	c.AddCommand(newKeysRotateCommand(), newKeysListCommand())
	return c
}

// loadKeysConfig loads a config file whose keys section is set.
func loadKeysConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, usagef("say which config holds the keys section: --config FILE")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if !cfg.Keys.Enabled() {
		return nil, usagef("%s has no keys section (keys.provider is not set)", path)
	}
	return cfg, nil
}

func newKeysRotateCommand() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "rotate --config FILE",
		Short: "Add a key version to the local keyring and make it current",
		Long: `Add a new key version to the local keyring (keys.keyring) and make it current.
New capture objects are wrapped with it — a running glassbox serve picks it up
with its next object — while older versions stay in the keyring so that every
object written before remains readable. Secrets derived from the keyring
(redaction HMAC, digest signing) do not change.

With provider awskms, rotation happens in KMS (automatic yearly rotation, or
'aws kms rotate-key-on-demand'); nothing changes here.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadKeysConfig(cfgPath)
			if err != nil {
				return err
			}
			if cfg.Keys.Provider != config.KeysProviderLocal {
				return fmt.Errorf("keys rotate: provider %s keys are rotated in AWS KMS (enable automatic rotation or run `aws kms rotate-key-on-demand --key-id %s`); objects stay readable without changes here",
					cfg.Keys.Provider, cfg.Keys.KMSKeyID)
			}
			k, err := keys.OpenKeyring(cfg.Keys.Keyring, keys.KeyringOptions{})
			if err != nil {
				return err
			}
			v, err := k.Rotate()
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "keyring %s: version %d is now current (%d versions kept for reading)\n",
				k.Path(), v, len(k.Versions()))
			return nil
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "config file with the keys section (required)")
	return c
}

// listedKey is one element of 'keys list --output json'.
type listedKey struct {
	Provider string     `json:"provider"`
	Version  uint32     `json:"version,omitempty"`
	Created  *time.Time `json:"created,omitempty"`
	Current  bool       `json:"current"`
}

func newKeysListCommand() *cobra.Command {
	var cfgPath, output string
	c := &cobra.Command{
		Use:   "list --config FILE",
		Short: "List the key versions of the key provider",
		Long: `List the key provider and, for a local keyring, its key versions with their
creation times and which one is current. --output json prints a JSON array of
{"provider", "version", "created", "current"}; key material is never printed.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usagef("--output must be text or json, not %q", output)
			}
			cfg, err := loadKeysConfig(cfgPath)
			if err != nil {
				return err
			}
			var rows []listedKey
			switch cfg.Keys.Provider {
			case config.KeysProviderLocal:
				k, err := keys.OpenKeyring(cfg.Keys.Keyring, keys.KeyringOptions{})
				if err != nil {
					return err
				}
				for _, v := range k.Versions() {
					created := v.Created
					rows = append(rows, listedKey{Provider: k.Name(), Version: v.Version, Created: &created, Current: v.Current})
				}
			default:
				rows = append(rows, listedKey{Provider: providerName(cfg), Current: true})
			}
			out := c.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROVIDER\tVERSION\tCREATED\tCURRENT")
			for _, r := range rows {
				version, created, current := "-", "-", ""
				if r.Version != 0 {
					version = fmt.Sprint(r.Version)
				}
				if r.Created != nil {
					created = r.Created.UTC().Format(time.RFC3339)
				}
				if r.Current {
					current = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Provider, version, created, current)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "config file with the keys section (required)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}
