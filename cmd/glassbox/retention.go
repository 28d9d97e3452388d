package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

func newRetentionCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "retention",
		Short: "Enforce capture retention",
		Long: `Enforce capture.retention_days and capture.payload_retention_days
(docs/retention.md). glassbox serve sweeps hourly on its own; 'retention run'
sweeps once, now, and can show what a sweep would do.`,
	}
	c.AddCommand(newRetentionRunCommand())
	return c
}

func newRetentionRunCommand() *cobra.Command {
	var (
		cfgPath string
		dryRun  bool
		nowFlag string
	)
	c := &cobra.Command{
		Use:   "run --config FILE [--dry-run] [--now T]",
		Short: "Delete expired capture objects and strip expired payloads, once",
		Long: `Sweep the blob store once: delete the capture objects whose hour ended more
than capture.retention_days ago, and rewrite those older than
capture.payload_retention_days with their payload data emptied. Every action
is recorded in the digest chain, written to the audit log of the metadata
store and printed, one line per object; --dry-run prints what would be done
and changes nothing. The rules are the config file's endpoints, as updated
through the API in the metadata store.

glassbox serve sweeps hourly on its own; run this command without --dry-run
only while serve is stopped, since both write the digest journal in the
spool folder.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("say which config to apply: --config FILE")
			}
			now := time.Now
			if nowFlag != "" {
				t, err := parseTimeFlag("--now", nowFlag)
				if err != nil {
					return err
				}
				now = func() time.Time { return t }
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			return runRetention(c.Context(), cfg, dryRun, now, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "path of the YAML config file (required)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be deleted or rewritten; change nothing")
	c.Flags().StringVar(&nowFlag, "now", "", "sweep as if it were this RFC 3339 time (default: now)")
	return c
}

// runRetention sweeps once and prints the actions to out.
func runRetention(ctx context.Context, cfg *config.Config, dryRun bool, now func() time.Time, out, errOut io.Writer) error {
	log := newLogger(cfg.Log, errOut)
	raw, err := openBucket(ctx, cfg.Storage.Blob, cfg.Storage.S3)
	if err != nil {
		return err
	}
	db, err := openMetadata(ctx, cfg, log.With("component", "store"))
	if err != nil {
		return err
	}
	defer db.Close()
	// A real sweep records its actions in the digest chain through the
	// same writer (journal in the spool folder) as glassbox serve, and
	// writes the endpoints' digests when done (stop). That journal is
	// single-process: sweep with this command while serve is stopped
	// (serve sweeps hourly on its own).
	var digests capture.DigestRecorder
	if !dryRun {
		d, recorded, err := openDigests(ctx, cfg, raw, log) // digestwire.go
		if err != nil {
			return err
		}
		defer d.stop()
		digests, raw = d, recorded
	}
	bucket, under, err := retentionCLIBuckets(ctx, cfg, raw)
	if err != nil {
		return err
	}
	s, err := newRetentionSweeper(cfg, bucket, under, db, digests, dryRun, now, log.With("component", "retention"))
	if err != nil {
		return err
	}
	rep, sweepErr := s.Sweep(ctx)
	printRetention(out, rep, dryRun)
	return sweepErr
}

// retentionCLIBuckets decorates raw with the decryption (and, for the
// endpoints with capture.encrypt, encryption) of cfg's key provider, as
// glassbox serve does, without creating a keyring. under is raw when
// decorated, else nil.
func retentionCLIBuckets(ctx context.Context, cfg *config.Config, raw objstore.Bucket) (bucket, under objstore.Bucket, err error) {
	if err := cfg.EncryptWithoutKeys(); err != nil {
		return nil, nil, err
	}
	if !cfg.Keys.Enabled() {
		return raw, nil, nil
	}
	p, err := openKeyProvider(ctx, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	encrypted := map[string]bool{}
	for i := range cfg.Endpoints {
		if cfg.Endpoints[i].Capture.Encrypt {
			encrypted[cfg.Endpoints[i].Name] = true
		}
	}
	return capture.NewEncryptingBucket(raw, p, func(key string) bool { return encrypted[capture.EndpointOf(key)] }), raw, nil
}

// printRetention writes one line per action, then a summary:
//
//	ACTION  KEY                                   SIZE          REASON
//	delete  churn/AllTraffic/2024/05/01/10/….jsonl 1611          retention_days=30
//	strip   churn/AllTraffic/2024/05/20/10/….jsonl 1611 -> 1584  payload_retention_days=7
func printRetention(w io.Writer, rep capture.SweepReport, dryRun bool) {
	deleted, stripped := 0, 0
	if len(rep.Actions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACTION\tKEY\tSIZE\tREASON")
		for _, a := range rep.Actions {
			size := strconv.FormatInt(a.Size, 10)
			if a.Kind == capture.RetentionStrip {
				stripped++
				if a.NewSize > 0 {
					size += " -> " + strconv.FormatInt(a.NewSize, 10)
				}
			} else {
				deleted++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Kind, a.Key, size, a.Reason)
		}
		_ = tw.Flush()
	}
	verb := "deleted %d and stripped %d objects"
	if dryRun {
		verb = "dry run: would delete %d and strip %d objects"
	}
	fmt.Fprintf(w, verb+" (%d scanned, %d already stripped, %d failed)", deleted, stripped, rep.Scanned, rep.Stripped, rep.Failed)
	if dryRun {
		fmt.Fprint(w, "; nothing changed")
	}
	fmt.Fprintln(w)
}
