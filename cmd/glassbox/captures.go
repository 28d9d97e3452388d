package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
)

// storeFlags name the blob store to read captures from.
type storeFlags struct {
	config string
	blob   string
	output string
	s3     config.S3
}

func (f *storeFlags) register(c *cobra.Command) {
	c.Flags().StringVarP(&f.config, "config", "c", "", "config file whose storage.blob holds the captures")
	c.Flags().StringVar(&f.blob, "blob", "", "blob store URL holding the captures (e.g. file:///var/lib/glassbox/data); overrides --config")
	c.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	c.Flags().StringVar(&f.s3.Endpoint, "s3-endpoint", "", "S3 endpoint URL for an s3:// --blob (default: AWS_ENDPOINT_URL or AWS)")
	c.Flags().StringVar(&f.s3.Region, "s3-region", "", "S3 region for an s3:// --blob (default: AWS_REGION)")
	c.Flags().BoolVar(&f.s3.PathStyle, "s3-path-style", false, "path-style S3 addressing for an s3:// --blob (MinIO, moto, most non-AWS stores)")
}

func (f *storeFlags) reader() (*capture.Reader, error) {
	if f.output != "text" && f.output != "json" {
		return nil, usagef("--output must be text or json, not %q", f.output)
	}
	blob, s3cfg := f.blob, f.s3
	var cfg *config.Config // also read with --blob, for its keys section
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config); err != nil {
			return nil, err
		}
	}
	if blob == "" {
		if cfg == nil {
			return nil, usagef("say where the captures are: --config FILE or --blob URL")
		}
		blob, s3cfg = cfg.Storage.Blob, cfg.Storage.S3
	}
	if s := config.BlobScheme(blob); s != "file" && s != "s3" {
		return nil, usagef("--blob %q: want file:///path or s3://bucket/prefix", blob)
	}
	b, err := openBucket(context.Background(), blob, s3cfg)
	if err != nil {
		return nil, err
	}
	return &capture.Reader{Bucket: wrapReader(context.Background(), cfg, b)}, nil // decrypts (keyswire.go)
}

func newCapturesCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "captures",
		Short: "Read captured records back",
	}
	c.AddCommand(newCapturesListCommand(), newCapturesGetCommand(), newCapturesReindexCommand())
	return c
}

// listedRecord is one element of 'captures list --output json'.
type listedRecord struct {
	Object string          `json:"object"`
	Record *capture.Record `json:"record"`
}

func newCapturesListCommand() *cobra.Command {
	var f storeFlags
	var endpoint, variant, since, until string
	var limit int
	c := &cobra.Command{
		Use:   "list --endpoint NAME [--since T] [--until T]",
		Short: "List captured records of an endpoint, oldest first",
		Long: `List the records captured for an endpoint, optionally for one variant and a
time window (RFC 3339 times, e.g. 2026-11-22T10:00:00Z; --since is inclusive,
--until exclusive). Works on Glassbox's captures and on prefixes written by a
SageMaker endpoint. --output json prints a JSON array of {"object", "record"}.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if endpoint == "" {
				return usagef("--endpoint is required")
			}
			filter := capture.Filter{Endpoint: endpoint, Variant: variant}
			var err error
			if filter.Since, err = parseTimeFlag("--since", since); err != nil {
				return err
			}
			if filter.Until, err = parseTimeFlag("--until", until); err != nil {
				return err
			}
			r, err := f.reader()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if f.output == "json" {
				return listJSON(c, r, filter, limit, out)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tEVENT ID\tINFERENCE ID\tVARIANT\tSTATUS\tINPUT\tOUTPUT")
			n, err := scanLimit(c, r, filter, limit, func(key string, rec *capture.Record) error {
				status, variant := "-", "-"
				if info, err := capture.ParseObjectKey(key); err == nil {
					variant = info.Variant // SageMaker's records carry it only in the key
				}
				if x := rec.Glassbox; x != nil {
					status, variant = fmt.Sprint(x.Status), x.Variant
				}
				_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
					rec.EventMetadata.InferenceTime, rec.EventMetadata.EventID,
					dash(rec.EventMetadata.InferenceID), variant, status,
					preview(rec.CaptureData.EndpointInput), preview(rec.CaptureData.EndpointOutput))
				return err
			})
			if err != nil {
				return err
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "%d records\n", n)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVarP(&endpoint, "endpoint", "e", "", "endpoint name (required)")
	c.Flags().StringVar(&variant, "variant", "", "only this variant")
	c.Flags().StringVar(&since, "since", "", "only records at or after this RFC 3339 time")
	c.Flags().StringVar(&until, "until", "", "only records before this RFC 3339 time")
	c.Flags().IntVar(&limit, "limit", 0, "stop after this many records (0: no limit)")
	return c
}

var errLimit = fmt.Errorf("limit reached")

// scanLimit scans and stops quietly after limit records.
func scanLimit(c *cobra.Command, r *capture.Reader, f capture.Filter, limit int, fn func(string, *capture.Record) error) (int, error) {
	n := 0
	err := r.Scan(c.Context(), f, func(key string, rec *capture.Record) error {
		if limit > 0 && n >= limit {
			return errLimit
		}
		n++
		return fn(key, rec)
	})
	if err == errLimit {
		err = nil
	}
	return n, err
}

func listJSON(c *cobra.Command, r *capture.Reader, f capture.Filter, limit int, out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	fmt.Fprint(out, "[")
	first := true
	_, err := scanLimit(c, r, f, limit, func(key string, rec *capture.Record) error {
		if !first {
			fmt.Fprint(out, ",")
		}
		first = false
		return enc.Encode(listedRecord{Object: key, Record: rec})
	})
	fmt.Fprintln(out, "]")
	return err
}

func newCapturesGetCommand() *cobra.Command {
	var f storeFlags
	c := &cobra.Command{
		Use:   "get EVENT_ID",
		Short: "Show one captured record by its event id",
		Long: `Find the record whose eventMetadata.eventId is EVENT_ID (the value of the
X-Glassbox-Event-Id response header) and print it with its payloads decoded.
This scans the store; it is meant for stores of modest size.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := f.reader()
			if err != nil {
				return err
			}
			rec, key, err := r.Find(c.Context(), args[0])
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if f.output == "json" {
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				return enc.Encode(listedRecord{Object: key, Record: rec})
			}
			m := rec.EventMetadata
			fmt.Fprintf(out, "object:         %s\nevent id:       %s\ninference time: %s\n", key, m.EventID, m.InferenceTime)
			if m.InferenceID != "" {
				fmt.Fprintf(out, "inference id:   %s\n", m.InferenceID)
			}
			if m.CustomAttributes != "" {
				fmt.Fprintf(out, "custom attrs:   %s\n", m.CustomAttributes)
			}
			if x := rec.Glassbox; x != nil {
				fmt.Fprintf(out, "variant:        %s\nstatus:         %d\nlatency:        %s\n", x.Variant, x.Status, time.Duration(x.LatencyMicros)*time.Microsecond)
				if x.Error != "" {
					fmt.Fprintf(out, "error:          %s\n", x.Error)
				}
			}
			for _, p := range []*capture.Payload{rec.CaptureData.EndpointInput, rec.CaptureData.EndpointOutput} {
				if p == nil {
					continue
				}
				fmt.Fprintf(out, "\n%s (%s, %s):\n%s\n", strings.ToLower(p.Mode), p.ObservedContentType, p.Encoding, payloadText(p))
			}
			return nil
		},
	}
	f.register(c)
	return c
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usagef("%s %q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", name, v)
	}
	return t, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// payloadText shows a payload as text when it is text, else as base64.
func payloadText(p *capture.Payload) string {
	b, err := p.Bytes()
	if err != nil || !utf8.Valid(b) {
		return p.Data
	}
	return string(b)
}

// preview shortens a payload to one table cell.
func preview(p *capture.Payload) string {
	if p == nil {
		return "-"
	}
	s := strings.Join(strings.Fields(payloadText(p)), " ")
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:39]) + "…"
	}
	return s
}
