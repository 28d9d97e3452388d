package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// exitViolations is the exit code of 'monitor run' when the window violates
// the baseline's constraints: the run itself succeeded.
const exitViolations = 3

// exitCoder is an error that picks the process exit code.
type exitCoder interface{ ExitCode() int }

// violationsError reports a completed run with violations.
type violationsError struct{ n int }

func (e violationsError) Error() string {
	return fmt.Sprintf("the window violates the baseline: %d violation(s)", e.n)
}
func (e violationsError) ExitCode() int { return exitViolations }

func newBaselineCommand() *cobra.Command {
	var dataset, format, output, summary string
	var header bool
	var s3f s3Flags
	c := &cobra.Command{
		Use:   "baseline --dataset PATH_OR_URI [--format csv|jsonl|parquet] [--header] --output DIR_OR_URI",
		Short: "Profile a training data set into statistics.json and constraints.json",
		Long: `Profile a training data set in one streaming pass and write a baseline in
SageMaker Model Monitor's schema: statistics.json (types, counts, mean, sum,
population standard deviation, min, max, a KLL sketch with 10 equal-width
buckets, distinct counts and value counts for strings) and constraints.json
(completeness, non-negativity, string domains and SageMaker's default
monitoring_config). A SageMaker baseline job's files can be used as they are.

The data set is a local file, file:///path or s3://bucket/key; --output a local
folder, file:///dir or s3://bucket/prefix. As in Model Monitor, put the model's
output (label) columns first. Without --header, CSV columns are named _c0,
_c1, ... A progress bar is drawn when stderr is a terminal; --summary json
prints a machine-readable summary on stdout (see docs/cli-json.md).`,
		Example: `  glassbox baseline --dataset train.csv --header --output ./baseline
  glassbox baseline --dataset s3://ml/train.parquet --output s3://ml/baselines/churn --summary json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dataset == "" || output == "" {
				return usagef("--dataset and --output are required")
			}
			if summary != "text" && summary != "json" {
				return usagef("--summary must be text or json, not %q", summary)
			}
			kind, err := datasetKind(format, dataset)
			if err != nil {
				return err
			}
			return runBaseline(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), baselineRequest{
				dataset: dataset, kind: kind, header: header, output: output,
				summary: summary, s3: s3f.s3,
			})
		},
	}
	c.Flags().StringVarP(&dataset, "dataset", "d", "", "training data: local file, file:///path or s3://bucket/key (required)")
	c.Flags().StringVarP(&format, "format", "f", "", "csv, jsonl or parquet (default: from the file extension)")
	c.Flags().BoolVar(&header, "header", false, "the CSV's first line names the columns")
	c.Flags().StringVarP(&output, "output", "o", "", "where to write statistics.json and constraints.json: folder, file:///dir or s3://bucket/prefix (required)")
	c.Flags().StringVar(&summary, "summary", "text", "summary format on stdout: text or json")
	s3f.register(c)
	return c
}

// datasetKind picks the data set format from the flag or the extension.
func datasetKind(flag, dataset string) (string, error) {
	if flag != "" {
		switch flag {
		case "csv", "jsonl", "parquet":
			return flag, nil
		case "json", "ndjson":
			return "jsonl", nil
		}
		return "", usagef("--format must be csv, jsonl or parquet, not %q", flag)
	}
	name := strings.ToLower(strings.TrimSuffix(dataset, ".gz"))
	switch filepath.Ext(name) {
	case ".csv":
		return "csv", nil
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	case ".parquet", ".pq":
		return "parquet", nil
	}
	return "", usagef("cannot tell the format of %s from its name: pass --format csv|jsonl|parquet", dataset)
}

type baselineRequest struct {
	dataset, kind, output, summary string
	header                         bool
	s3                             config.S3
}

// baselineSummary is the --summary json output of 'glassbox baseline'.
type baselineSummary struct {
	Dataset  string           `json:"dataset"`
	Format   string           `json:"format"`
	Output   string           `json:"output"`
	Rows     int64            `json:"rows"`
	Bytes    int64            `json:"bytes"`
	Seconds  float64          `json:"seconds"`
	Features []featureSummary `json:"features"`
}

type featureSummary struct {
	Name         string  `json:"name"`
	Type         string  `json:"inferred_type"`
	Completeness float64 `json:"completeness"`
}

func runBaseline(ctx context.Context, stdout, stderr io.Writer, r baselineRequest) error {
	start := time.Now()
	rc, size, err := openObject(ctx, r.dataset, r.s3)
	if err != nil {
		return fmt.Errorf("open data set: %w", err)
	}
	defer rc.Close()
	out, err := openOutput(ctx, r.output, r.s3)
	if err != nil {
		return err
	}
	var bar *progressBar
	if r.summary == "text" {
		bar = newProgressBar(stderr, "profiling", size)
	}
	var read int64
	progress := func(n int64) { read = n; bar.set(n, "B") }
	opts := monitor.ProfilerOptions{}
	var p *monitor.Profiler
	if r.kind == "parquet" {
		ra, n, cleanup, err := readerAt(rc, size)
		if err != nil {
			return err
		}
		defer cleanup()
		p, err = monitor.ProfileParquet(ctx, ra, n, opts, progress)
		if err != nil {
			bar.done()
			return fmt.Errorf("profile %s: %w", r.dataset, err)
		}
	} else {
		p, err = monitor.ProfileDataset(ctx, rc, monitor.DatasetFormat{Kind: r.kind, Header: r.header}, opts, progress)
		if err != nil {
			bar.done()
			return fmt.Errorf("profile %s: %w", r.dataset, err)
		}
	}
	bar.done()
	prof := p.Profile()
	if prof.Statistics.Dataset.ItemCount == 0 {
		return fmt.Errorf("profile %s: the data set has no rows", r.dataset)
	}
	cons := monitor.SuggestConstraints(prof)
	if err := putJSON(ctx, out, monitor.StatisticsFile, &prof.Statistics); err != nil {
		return err
	}
	if err := putJSON(ctx, out, monitor.ConstraintsFile, cons); err != nil {
		return err
	}
	sum := baselineSummary{
		Dataset: r.dataset, Format: r.kind, Output: out.String(),
		Rows: prof.Statistics.Dataset.ItemCount, Bytes: read,
		Seconds: time.Since(start).Seconds(), Features: []featureSummary{},
	}
	for i, f := range prof.Statistics.Features {
		col := prof.Columns[i]
		comp := 0.0
		if t := col.Present + col.Missing; t > 0 {
			comp = float64(col.Present) / float64(t)
		}
		sum.Features = append(sum.Features, featureSummary{Name: f.Name, Type: f.InferredType, Completeness: comp})
	}
	if r.summary == "json" {
		return writeIndented(stdout, sum)
	}
	counts := map[string]int{}
	for _, f := range sum.Features {
		counts[f.Type]++
	}
	var types []string
	for _, t := range []string{monitor.TypeIntegral, monitor.TypeFractional, monitor.TypeString} {
		if counts[t] > 0 {
			types = append(types, fmt.Sprintf("%d %s", counts[t], t))
		}
	}
	fmt.Fprintf(stdout, "Profiled %d rows, %d features (%s) in %.1fs.\nWrote %s and %s to %s\n",
		sum.Rows, len(sum.Features), strings.Join(types, ", "), sum.Seconds,
		monitor.StatisticsFile, monitor.ConstraintsFile, sum.Output)
	return nil
}

// readerAt gives Parquet's reader random access: a local file is used as
// it is, anything else is copied to a temporary file first.
func readerAt(rc io.ReadCloser, size int64) (io.ReaderAt, int64, func(), error) {
	if f, ok := rc.(*os.File); ok && size >= 0 {
		return f, size, func() {}, nil
	}
	tmp, err := os.CreateTemp("", "glassbox-dataset-*.parquet")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, rc)
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("download data set: %w", err)
	}
	return tmp, n, cleanup, nil
}

// putJSON writes v as an indented JSON object named key in b.
func putJSON(ctx context.Context, b objstore.Bucket, key string, v any) error {
	var buf strings.Builder
	if err := monitor.WriteJSON(&buf, v); err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := b.Put(ctx, key, strings.NewReader(buf.String())); err != nil {
		return fmt.Errorf("write %s to %s: %w", key, b, err)
	}
	return nil
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newMonitorCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "monitor",
		Short: "Check captured traffic against a baseline",
	}
	c.AddCommand(newMonitorRunCommand())
	return c
}

func newMonitorRunCommand() *cobra.Command {
	var req monitorRequest
	var start, end string
	var s3f s3Flags
	c := &cobra.Command{
		Use:   "run (--config FILE --endpoint NAME | --capture URI) [--baseline DIR_OR_URI] --start T --end T [--output DIR_OR_URI]",
		Short: "Run one data-quality and drift check over a window of captures",
		Long: `Read the records captured between --start (inclusive) and --end (exclusive),
RFC 3339 times, assemble them into rows the way SageMaker Model Monitor does
(output columns first, then input columns; CSV by position, flat JSON by name,
nested JSON through the endpoint's monitor.input/output column paths), profile
them, and compare the profile with the baseline.

It writes statistics.json, constraint_violations.json (every SageMaker check:
data_type_check, completeness_check, baseline_drift_check, missing_column_check,
extra_column_check, categorical_values_check), drift_report.json (Glassbox's
per-feature drift tests) and a copy of constraints.json to --output. With
--config and no --output the report goes to the blob store at
{reports_prefix}/{endpoint}/manual/yyyy/mm/dd/HH/.

The captures are Glassbox's (--config's storage.blob, or --capture) or any
SageMaker Data Capture prefix (--capture s3://bucket/prefix or a local copy).

Exit status: 0 no violations, 3 violations found, 1 the run failed (an empty
window fails and says why), 2 bad usage.`,
		Example: `  glassbox monitor run --config glassbox.yaml --endpoint churn \
      --start 2026-11-22T10:00:00Z --end 2026-11-22T11:00:00Z
  glassbox monitor run --capture s3://ml/datacapture --endpoint churn --baseline s3://ml/baselines/churn \
      --start 2026-11-22T00:00:00Z --end 2026-11-23T00:00:00Z --output ./report --summary json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var err error
			if req.start, err = parseTimeFlag("--start", start); err != nil {
				return err
			}
			if req.end, err = parseTimeFlag("--end", end); err != nil {
				return err
			}
			if req.start.IsZero() || req.end.IsZero() {
				return usagef("--start and --end are required (RFC 3339, e.g. 2026-11-22T10:00:00Z)")
			}
			if !req.start.Before(req.end) {
				return usagef("--start %s is not before --end %s", start, end)
			}
			if req.summary != "text" && req.summary != "json" {
				return usagef("--summary must be text or json, not %q", req.summary)
			}
			req.s3 = s3f
			return runMonitorCommand(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), req)
		},
	}
	c.Flags().StringVarP(&req.config, "config", "c", "", "config file: captures from storage.blob, baseline and row layout from the endpoint's monitor block")
	c.Flags().StringVarP(&req.endpoint, "endpoint", "e", "", "endpoint name (required with --config; with --capture, limits the run to that endpoint's records)")
	c.Flags().StringVar(&req.variant, "variant", "", "only this variant")
	c.Flags().StringVar(&req.capture, "capture", "", "capture prefix to read: folder, file:///dir or s3://bucket/prefix (default: --config's storage.blob)")
	c.Flags().StringVarP(&req.baseline, "baseline", "b", "", "folder or URI holding statistics.json and constraints.json (default: the endpoint's monitor.baseline)")
	c.Flags().StringVar(&start, "start", "", "window start, RFC 3339, inclusive (required)")
	c.Flags().StringVar(&end, "end", "", "window end, RFC 3339, exclusive (required)")
	c.Flags().StringVarP(&req.output, "output", "o", "", "where to write the report: folder, file:///dir or s3://bucket/prefix")
	c.Flags().StringVar(&req.summary, "summary", "text", "summary format on stdout: text or json")
	s3f.register(c)
	return c
}

type monitorRequest struct {
	config, endpoint, variant, capture, baseline, output, summary string
	start, end                                                    time.Time
	s3                                                            s3Flags
}

// monitorSummary is the --summary json output of 'glassbox monitor run'.
type monitorSummary struct {
	Status     string               `json:"status"`
	Endpoint   string               `json:"endpoint,omitempty"`
	Start      time.Time            `json:"start"`
	End        time.Time            `json:"end"`
	Objects    int64                `json:"objects"`
	Records    int64                `json:"records"`
	Rows       int64                `json:"rows"`
	Skipped    int64                `json:"skipped"`
	Violations []monitor.Violation  `json:"violations"`
	Drift      *monitor.DriftReport `json:"drift"`
	Report     string               `json:"report"`
	Seconds    float64              `json:"seconds"`
}

func runMonitorCommand(ctx context.Context, stdout, stderr io.Writer, req monitorRequest) error {
	began := time.Now()
	var cfg *config.Config
	var ep *config.Endpoint
	if req.config != "" {
		var err error
		if cfg, err = config.Load(req.config); err != nil {
			return err
		}
		if req.endpoint == "" {
			return usagef("--endpoint is required with --config")
		}
		if ep = findEndpoint(cfg, req.endpoint); ep == nil && req.capture == "" {
			return usagef("endpoint %q is not in %s", req.endpoint, req.config)
		}
	} else if req.capture == "" {
		return usagef("say where the captures are: --config FILE --endpoint NAME, or --capture URI")
	}
	s3cfg := req.s3.s3
	if cfg != nil {
		s3cfg = req.s3.merge(cfg.Storage.S3)
	}

	// Captures.
	var captures objstore.Bucket
	var err error
	if req.capture != "" {
		captures, err = openLocation(ctx, req.capture, s3cfg)
	} else {
		captures, err = openBucket(ctx, cfg.Storage.Blob, s3cfg)
	}
	if err != nil {
		return err
	}
	captures = wrapReader(ctx, cfg, captures) // decrypts encrypted captures (keyswire.go)

	// Baseline and row layout.
	spec := monitorSpec{}
	if ep != nil {
		spec = endpointMonitorSpec(ep)
	}
	baseLoc := req.baseline
	if baseLoc == "" {
		baseLoc = spec.baseline
	}
	if baseLoc == "" {
		return usagef("say where the baseline is: --baseline DIR_OR_URI (or monitor.baseline in the endpoint's config)")
	}
	baseBucket, err := openLocation(ctx, baseLoc, s3cfg)
	if err != nil {
		return err
	}
	stats, cons, err := monitor.LoadBaseline(ctx, baseBucket, "")
	if err != nil {
		return err
	}

	// Report destination.
	var out objstore.Bucket
	var outPrefix string
	switch {
	case req.output != "":
		if out, err = openOutput(ctx, req.output, s3cfg); err != nil {
			return err
		}
	case cfg != nil && req.capture == "":
		out = captures
		outPrefix = reportPrefix(cfg, req.endpoint, "manual", req.end)
	default:
		return usagef("say where to write the report: --output DIR_OR_URI")
	}

	var bar *progressBar
	if req.summary == "text" {
		bar = newProgressBar(stderr, "monitoring", 0)
	}
	res, err := monitor.Run(ctx, monitor.RunOptions{
		Bucket: captures, Endpoint: req.endpoint, Variant: req.variant,
		Start: req.start, End: req.end,
		Baseline: stats, Constraints: cons,
		Rows: spec.rows, Drift: spec.drift,
		Progress: func(n int64) { bar.set(n, "records") },
	})
	bar.done()
	if err != nil {
		return err
	}
	if err := monitor.WriteReport(ctx, out, outPrefix, res, cons); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	reportURI := strings.TrimSuffix(out.String(), "/")
	if outPrefix != "" {
		reportURI += "/" + outPrefix
	}
	sum := monitorSummary{
		Status: res.Status, Endpoint: req.endpoint, Start: req.start, End: req.end,
		Objects: res.Objects, Records: res.Records, Rows: res.Rows, Skipped: res.Skipped,
		Violations: res.Violations.Violations, Drift: res.Drift, Report: reportURI,
		Seconds: time.Since(began).Seconds(),
	}
	if sum.Violations == nil {
		sum.Violations = []monitor.Violation{}
	}
	if req.summary == "json" {
		if err := writeIndented(stdout, sum); err != nil {
			return err
		}
	} else {
		printMonitorSummary(stdout, sum)
	}
	if n := len(sum.Violations); n > 0 {
		return violationsError{n}
	}
	return nil
}

func printMonitorSummary(w io.Writer, s monitorSummary) {
	fmt.Fprintf(w, "%s: %d records, %d rows (%d skipped) from %d objects, %s to %s\n",
		s.Status, s.Records, s.Rows, s.Skipped, s.Objects,
		s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339))
	if len(s.Violations) == 0 {
		fmt.Fprintln(w, "No violations.")
	} else {
		fmt.Fprintf(w, "%d violations:\n", len(s.Violations))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  FEATURE\tCHECK\tDESCRIPTION")
		const shown = 20
		for i, v := range s.Violations {
			if i == shown {
				fmt.Fprintf(tw, "  ... %d more\t\t(all of them are in %s)\n", len(s.Violations)-shown, monitor.ViolationsFile)
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.FeatureName, v.ConstraintCheckType, v.Description)
		}
		tw.Flush()
	}
	if d := s.Drift; d != nil {
		fmt.Fprintf(w, "Drift tests: %s\n", d.Summary())
	}
	fmt.Fprintf(w, "Report: %s\n", s.Report)
}

// reportPrefix is where a run's report goes in the blob store:
// {reports_prefix}/{endpoint}/{schedule}/yyyy/mm/dd/HH, the hour of t.
func reportPrefix(cfg *config.Config, endpoint, schedule string, t time.Time) string {
	return monitor.ReportKey(cfg.Monitoring.ReportsPrefix, endpoint, schedule, t)
}

func findEndpoint(cfg *config.Config, name string) *config.Endpoint {
	i := slices.IndexFunc(cfg.Endpoints, func(e config.Endpoint) bool { return e.Name == name })
	if i < 0 {
		return nil
	}
	return &cfg.Endpoints[i]
}
