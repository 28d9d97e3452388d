package monitor

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// This file runs one monitoring execution: read the capture records of a
// window, assemble and profile their rows, check the profile against the
// baseline, and write the reports.

// Execution statuses, as SageMaker names them.
const (
	StatusCompleted               = "Completed"
	StatusCompletedWithViolations = "CompletedWithViolations"
)

// ErrNoData is wrapped by Run when the window yields no rows. The error's
// text says why: no capture objects at all, records that all lie outside
// the window, or records that could not be read as rows.
var ErrNoData = errors.New("no data to monitor")

// RunOptions describe one monitoring execution.
type RunOptions struct {
	// Bucket holds the captures: Glassbox's, or a SageMaker capture prefix
	// (the bucket's root is the DestinationS3Uri, under which the keys are
	// {endpoint}/{variant}/yyyy/mm/dd/HH/name.jsonl).
	Bucket objstore.Bucket
	// Endpoint and Variant select the captures; empty means every endpoint
	// or every variant under the bucket.
	Endpoint, Variant string
	// Start and End bound the window: Start <= inferenceTime < End. Zero
	// values leave that side open.
	Start, End time.Time
	// Baseline is the statistics.json to check against. Nil: the run only
	// profiles the window (no violations, no drift report).
	Baseline *Statistics
	// Constraints is the constraints.json; nil means SageMaker's default
	// monitoring_config and no per-feature constraints.
	Constraints *Constraints
	// Rows says how payloads become rows. Run fills Rows.Names with the
	// baseline's feature names when it is empty.
	Rows RowOptions
	// Drift tunes Glassbox's drift report.
	Drift DriftOptions
	// MaxCategories bounds the distinct values tracked per string column
	// (0: the profiler's default).
	MaxCategories int
	// Progress, when set, is called with the number of records read so far
	// every 10,000 records and once at the end.
	Progress func(records int64)
}

// Result is the outcome of one execution.
type Result struct {
	// Status is StatusCompleted or StatusCompletedWithViolations (the
	// latter iff Violations is not empty).
	Status     string
	Statistics *Statistics
	Violations *Violations
	// Drift is nil when the run had no baseline.
	Drift *DriftReport
	// Objects is the number of capture objects that held records in the
	// window; Records the records in the window; Rows the rows profiled.
	Objects, Records, Rows int64
	// Skipped counts records in the window that gave no rows, by reason in
	// SkipReasons (for example "input: invalid json", "row count mismatch",
	// "invalid capture line").
	Skipped     int64
	SkipReasons map[string]int64
}

// progressEvery is how many records pass between Progress calls.
const progressEvery = 10_000

// Run executes one monitoring job: it reads every capture record of the
// window, profiles its rows, and checks the profile against the baseline.
// Positional (CSV) rows take the baseline's feature names by position,
// outputs first, as Model Monitor matches CSV data. A capture line that is
// not a valid record is skipped and counted, not fatal. An empty window is
// an error wrapping ErrNoData.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	if o.Bucket == nil {
		return nil, errors.New("run monitor: no capture bucket")
	}
	if !o.Start.IsZero() && !o.End.IsZero() && !o.Start.Before(o.End) {
		return nil, fmt.Errorf("run monitor: window start %s is not before end %s", fmtTime(o.Start), fmtTime(o.End))
	}
	var names []string
	if o.Baseline != nil {
		for _, f := range o.Baseline.Features {
			names = append(names, f.Name)
		}
	}
	rowOpts := o.Rows
	if len(rowOpts.Names) == 0 {
		rowOpts.Names = names
	}
	asm, err := NewAssembler(rowOpts)
	if err != nil {
		return nil, fmt.Errorf("run monitor: %w", err)
	}
	prof := NewProfiler(ProfilerOptions{Names: rowOpts.Names, MaxCategories: o.MaxCategories})
	res := &Result{SkipReasons: map[string]int64{}}
	skip := func(reason string) {
		res.Skipped++
		res.SkipReasons[reason]++
	}
	addRow := func(r *Row) error {
		prof.Add(r)
		res.Rows++
		return nil
	}
	sc := scanner{bucket: o.Bucket, endpoint: o.Endpoint, variant: o.Variant, start: o.Start, end: o.End}
	lastKey := ""
	err = sc.scan(ctx, true, func(key string, rec *capture.Record, decodeErr error) error {
		if key != lastKey {
			res.Objects++
			lastKey = key
		}
		res.Records++
		if o.Progress != nil && res.Records%progressEvery == 0 {
			o.Progress(res.Records)
		}
		if decodeErr != nil {
			skip("invalid capture line")
			return nil
		}
		// The hot loop: the scanner reuses its Record and Rows its buffers.
		err := asm.Rows(rec, addRow)
		var re *rowError
		if errors.As(err, &re) {
			skip(re.key())
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("run monitor: %w", err)
	}
	if o.Progress != nil {
		o.Progress(res.Records)
	}
	if res.Rows == 0 {
		return nil, fmt.Errorf("run monitor: %w", sc.explainEmpty(ctx, res))
	}
	p := prof.Profile()
	res.Statistics = &p.Statistics
	res.Violations = &Violations{Violations: []Violation{}}
	if o.Baseline != nil {
		v, d, err := Check(o.Baseline, o.Constraints, p, CheckOptions{Drift: o.Drift})
		if err != nil {
			return nil, fmt.Errorf("run monitor: %w", err)
		}
		res.Violations, res.Drift = v, d
	}
	res.Status = StatusCompleted
	if len(res.Violations.Violations) > 0 {
		res.Status = StatusCompletedWithViolations
	}
	return res, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// scanner reads the capture records of a window. Unlike capture.Reader it
// hands undecodable lines to the callback instead of stopping, so that one
// torn or foreign line does not fail a whole execution.
type scanner struct {
	bucket            objstore.Bucket
	endpoint, variant string
	start, end        time.Time
}

func (s *scanner) prefix() string {
	switch {
	case s.endpoint != "" && s.variant != "":
		return s.endpoint + "/" + s.variant + "/"
	case s.endpoint != "":
		return s.endpoint + "/"
	}
	return ""
}

// where names the scanned prefix for messages.
func (s *scanner) where() string {
	return strings.TrimSuffix(s.bucket.String(), "/") + "/" + s.prefix()
}

// scan calls fn for each record of the capture objects under the prefix;
// with window set, only for records (and objects whose hour overlaps) in
// [start, end). A line that does not decode is passed with its error and a
// nil record. The record is reused for the next line, so fn must not keep
// it.
func (s *scanner) scan(ctx context.Context, window bool, fn func(key string, rec *capture.Record, err error) error) error {
	return s.bucket.List(ctx, s.prefix(), func(oi objstore.ObjectInfo) error {
		info, err := capture.ParseObjectKey(oi.Key)
		if err != nil {
			return nil // not a capture object
		}
		if s.variant != "" && info.Variant != s.variant {
			return nil
		}
		if window && ((!s.start.IsZero() && !info.Hour.Add(time.Hour).After(s.start)) || (!s.end.IsZero() && !info.Hour.Before(s.end))) {
			return nil
		}
		return s.scanObject(ctx, oi.Key, window, fn)
	})
}

func (s *scanner) scanObject(ctx context.Context, key string, window bool, fn func(string, *capture.Record, error) error) error {
	rc, err := s.bucket.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("open capture object %s: %w", key, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	rec := new(capture.Record)
	for {
		line, rerr := br.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			long := append([]byte(nil), line...)
			for errors.Is(rerr, bufio.ErrBufferFull) {
				line, rerr = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(bytes.TrimSpace(line)) > 0 {
			// One Record is reused for every line: fn must not keep it.
			derr := capture.DecodeRecordInto(line, rec)
			if derr != nil {
				if err := fn(key, nil, fmt.Errorf("%s: %w", key, derr)); err != nil {
					return err
				}
			} else if t, _ := rec.Time(); !window || s.inWindow(t) {
				if err := fn(key, rec, nil); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read capture object %s: %w", key, rerr)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (s *scanner) inWindow(t time.Time) bool {
	return (s.start.IsZero() || !t.Before(s.start)) && (s.end.IsZero() || t.Before(s.end))
}

// explainEmpty says why a window gave no rows, wrapping ErrNoData. When
// the window held no records it scans the whole prefix once more to report
// what does exist.
func (s *scanner) explainEmpty(ctx context.Context, res *Result) error {
	if res.Records > 0 {
		type kv struct {
			k string
			n int64
		}
		var reasons []kv
		for k, n := range res.SkipReasons {
			reasons = append(reasons, kv{k, n})
		}
		slices.SortFunc(reasons, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.k, b.k)) })
		var parts []string
		for _, r := range reasons {
			parts = append(parts, fmt.Sprintf("%s (%d)", r.k, r.n))
		}
		return fmt.Errorf("%w: all %d records in the window were filtered out: %s; check the payload format options", ErrNoData, res.Records, strings.Join(parts, ", "))
	}
	var objects, records int64
	var earliest, latest time.Time
	lastKey := ""
	err := s.scan(ctx, false, func(key string, rec *capture.Record, err error) error {
		if key != lastKey {
			objects++
			lastKey = key
		}
		if rec == nil {
			return nil
		}
		records++
		if t, err := rec.Time(); err == nil {
			if earliest.IsZero() || t.Before(earliest) {
				earliest = t
			}
			if t.After(latest) {
				latest = t
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w in the window; listing what exists failed: %w", ErrNoData, err)
	}
	window := fmt.Sprintf("%s and %s", fmtTimeOrOpen(s.start, "the beginning"), fmtTimeOrOpen(s.end, "now"))
	switch {
	case objects == 0:
		return fmt.Errorf("%w: no capture objects under %s (keys must look like endpoint/variant/yyyy/mm/dd/HH/name.jsonl)", ErrNoData, s.where())
	case records == 0:
		return fmt.Errorf("%w: %d capture objects under %s hold no valid records", ErrNoData, objects, s.where())
	}
	return fmt.Errorf("%w: %d capture records exist but none between %s (earliest %s, latest %s)",
		ErrNoData, records, window, fmtTime(earliest), fmtTime(latest))
}

func fmtTimeOrOpen(t time.Time, open string) string {
	if t.IsZero() {
		return open
	}
	return fmtTime(t)
}

// WriteReport writes an execution's reports under prefix: statistics.json,
// constraint_violations.json, drift_report.json (when the run had a
// baseline) and a copy of the constraints.json it was checked against (when
// cons is not nil), so that a report folder is self-describing.
func WriteReport(ctx context.Context, b objstore.Bucket, prefix string, r *Result, cons *Constraints) error {
	if r == nil || r.Statistics == nil {
		return errors.New("write monitoring report: no result")
	}
	files := []struct {
		name string
		v    any
	}{
		{StatisticsFile, r.Statistics},
		{ViolationsFile, r.Violations},
	}
	if r.Drift != nil {
		files = append(files, struct {
			name string
			v    any
		}{DriftFile, r.Drift})
	}
	if cons != nil {
		files = append(files, struct {
			name string
			v    any
		}{ConstraintsFile, cons})
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, f.v); err != nil {
			return fmt.Errorf("write monitoring report %s: %w", f.name, err)
		}
		if err := b.Put(ctx, joinKey(prefix, f.name), &buf); err != nil {
			return fmt.Errorf("write monitoring report %s: %w", f.name, err)
		}
	}
	return nil
}

// joinKey joins a prefix (trailing slashes trimmed, as SageMaker's own
// paths need) and a file name.
func joinKey(prefix, name string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return name
	}
	return path.Join(prefix, name)
}

// LoadBaseline reads statistics.json and constraints.json under prefix, as
// a Glassbox or SageMaker baselining job wrote them.
func LoadBaseline(ctx context.Context, b objstore.Bucket, prefix string) (*Statistics, *Constraints, error) {
	open := func(name string) (io.ReadCloser, error) {
		key := joinKey(prefix, name)
		rc, err := b.Get(ctx, key)
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, fmt.Errorf("load baseline: %s has no %s; a baseline needs both %s and %s (run a baselining job first, or point at the folder that holds them)",
				strings.TrimSuffix(b.String(), "/")+"/"+strings.Trim(prefix, "/"), name, StatisticsFile, ConstraintsFile)
		}
		if err != nil {
			return nil, fmt.Errorf("load baseline %s: %w", key, err)
		}
		return rc, nil
	}
	rc, err := open(StatisticsFile)
	if err != nil {
		return nil, nil, err
	}
	st, err := ReadStatistics(rc)
	rc.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("load baseline: %w", err)
	}
	rc, err = open(ConstraintsFile)
	if err != nil {
		return nil, nil, err
	}
	cons, err := ReadConstraints(rc)
	rc.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("load baseline: %w", err)
	}
	return st, cons, nil
}
