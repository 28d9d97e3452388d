package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/digest"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// exitVerifyFailed is the exit code of 'verify' when the record is not
// intact: the check itself ran (exit 1 means it could not).
const exitVerifyFailed = 4

// verifyFailedError reports a completed verification with failures.
type verifyFailedError struct{ n int }

func (e verifyFailedError) Error() string {
	return fmt.Sprintf("verification failed: %d finding(s)", e.n)
}
func (e verifyFailedError) ExitCode() int { return exitVerifyFailed }

func newVerifyCommand() *cobra.Command {
	var cfgPath, endpoint, start, end, output, pubPath, blob string
	c := &cobra.Command{
		Use:   "verify --config FILE --endpoint NAME [--start T --end T]",
		Short: "Check the signed digests of an endpoint against its capture objects",
		Long: `Verify the tamper evidence of one endpoint (docs/formats/digest.md): every
digest's signature, the hash chain from digest to digest, one digest per hour
while the server ran, and the size and SHA-256 of every capture object in the
hours checked. Reports, hour by hour, objects modified, missing, added or moved
(reordered), and digests missing, badly signed or out of order. Deletions and
rewrites recorded by retention are listed as such, not as failures.

The public key is pinned: --public-key FILE, else the key serve signs with
(derived from the keys section, or {spool}/digest/signing.key). Only when
neither is available is the key published beside the digests used, with a
warning. Exit status: 0 intact, 4 verification failed, 1 the check could not
run, 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfgPath == "" || endpoint == "" {
				return usagef("verify needs --config FILE and --endpoint NAME")
			}
			if output != "text" && output != "json" {
				return usagef("--output must be text or json, not %q", output)
			}
			from, err := parseTimeFlag("--start", start)
			if err != nil {
				return err
			}
			to, err := parseTimeFlag("--end", end)
			if err != nil {
				return err
			}
			if !from.IsZero() && !to.IsZero() && !to.After(from) {
				return usagef("--end must be after --start")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if blob == "" {
				blob = cfg.Storage.Blob
			}
			ctx := c.Context()
			b, err := openBucket(ctx, blob, cfg.Storage.S3) // the store itself: hashes are over stored bytes
			if err != nil {
				return err
			}
			pub, pinned, err := verifyKey(ctx, cfg, b, pubPath)
			if err != nil {
				return err
			}
			if !pinned {
				fmt.Fprintf(c.ErrOrStderr(), "glassbox: warning: using the public key published in the bucket (%s); an attacker who can write there can replace it — pin it with --public-key\n", digest.PublicKeyKey)
			}
			var anchor *digest.Head
			if heads, err := digest.LoadHeads(digestStateDir(cfg.Storage.Spool)); err == nil {
				if h, ok := heads[endpoint]; ok {
					anchor = &h
				}
			}
			rep, err := digest.Verify(ctx, digest.VerifyOptions{
				Bucket: b, Endpoint: endpoint, PublicKey: pub, Start: from, End: to, Anchor: anchor,
			})
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if output == "json" {
				if err := writeVerifyJSON(out, rep, pinned); err != nil {
					return err
				}
			} else {
				writeVerifyText(out, rep, pinned)
			}
			if n := failures(rep); n > 0 {
				return verifyFailedError{n}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "config file of the server that wrote the digests")
	c.Flags().StringVar(&endpoint, "endpoint", "", "endpoint to verify")
	c.Flags().StringVar(&start, "start", "", "first hour to check, RFC 3339 (default: the first digest)")
	c.Flags().StringVar(&end, "end", "", "end of the hours to check, RFC 3339, exclusive (default: now)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	c.Flags().StringVar(&pubPath, "public-key", "", "pinned public key: a public-key.json, a PEM public key, or the raw key in hex or base64")
	c.Flags().StringVar(&blob, "blob", "", "blob store URL to check, overriding storage.blob (e.g. a copy)")
	return c
}

// verifyKey picks the public key digests must verify with; pinned is false
// only when it was taken from the bucket itself.
func verifyKey(ctx context.Context, cfg *config.Config, b objstore.Bucket, pubPath string) (ed25519.PublicKey, bool, error) {
	if pubPath != "" {
		data, err := os.ReadFile(pubPath)
		if err != nil {
			return nil, false, fmt.Errorf("read --public-key: %w", err)
		}
		pub, err := digest.ParsePublicKey(data)
		return pub, true, err
	}
	key, _, ok, err := digestSigningKey(ctx, cfg, false)
	if err != nil {
		return nil, false, err
	}
	if ok {
		return key.Public().(ed25519.PublicKey), true, nil
	}
	rc, err := b.Get(ctx, digest.PublicKeyKey)
	if err != nil {
		return nil, false, fmt.Errorf("no public key to verify with: pass --public-key (reading %s: %w)", digest.PublicKeyKey, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", digest.PublicKeyKey, err)
	}
	pub, err := digest.ParsePublicKey(data)
	return pub, false, err
}

func failures(r *digest.Report) int {
	n := 0
	for _, h := range r.Hours {
		for _, f := range h.Findings {
			if f.Kind.Failure() {
				n++
			}
		}
	}
	return n
}

// verifyJSON is the --output json document (docs/formats/digest.md).
type verifyJSON struct {
	*digest.Report
	Pinned   bool `json:"public_key_pinned"`
	OK       bool `json:"ok"`
	Failures int  `json:"failures"`
}

func writeVerifyJSON(w io.Writer, r *digest.Report, pinned bool) error {
	if r.Hours == nil {
		r.Hours = []digest.HourReport{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	n := failures(r)
	return enc.Encode(verifyJSON{Report: r, Pinned: pinned, OK: n == 0, Failures: n})
}

// verifyColumns are the failure kinds counted in the text table.
var verifyColumns = []struct {
	kind  digest.Kind
	title string
}{
	{digest.ObjectModified, "MODIFIED"},
	{digest.ObjectMissing, "MISSING"},
	{digest.ObjectAdded, "ADDED"},
	{digest.ObjectReordered, "REORDERED"},
	{digest.DigestMissing, "DIGEST-MISSING"},
	{digest.DigestBadSignature, "BAD-SIGNATURE"},
	{digest.DigestReordered, "DIGEST-REORDERED"},
}

func writeVerifyText(w io.Writer, r *digest.Report, pinned bool) {
	key := "pinned"
	if !pinned {
		key = "NOT pinned (taken from the bucket)"
	}
	fmt.Fprintf(w, "endpoint %s, key %s (%s), %d digest object(s), %d capture object(s) checked\n",
		r.Endpoint, r.Fingerprint[:16], key, r.Digests, r.Objects)
	if r.Head != nil {
		fmt.Fprintf(w, "newest digest: %s (sequence %d, %s, sha256 %s)\n", r.Head.Key, r.Head.Sequence, r.Head.Reason, r.Head.SHA256)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"HOUR (UTC)", "DIGESTS", "OBJECTS"}
	for _, c := range verifyColumns {
		header = append(header, c.title)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, h := range r.Hours {
		row := []string{h.Hour.Format("2006-01-02 15:00"), fmt.Sprint(h.Digests), fmt.Sprint(h.Objects)}
		for _, c := range verifyColumns {
			n := 0
			for _, f := range h.Findings {
				if f.Kind == c.kind {
					n++
				}
			}
			row = append(row, fmt.Sprint(n))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	for _, h := range r.Hours {
		for _, f := range h.Findings {
			mark := "FAIL"
			if !f.Kind.Failure() {
				mark = "note"
			}
			fmt.Fprintf(w, "%s %s %s %s: %s\n", mark, h.Hour.Format(time.RFC3339), f.Kind, dash(f.Key), f.Detail)
		}
	}
	if n := failures(r); n == 0 {
		fmt.Fprintln(w, "OK: the record is intact")
	}
}
