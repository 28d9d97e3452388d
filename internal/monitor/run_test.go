package monitor_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

var runHour0 = time.Date(2024, 5, 2, 14, 0, 0, 0, time.UTC)

func mustFileBucket(tb testing.TB, root string) *file.Bucket {
	tb.Helper()
	b, err := file.New(root)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// putCaptures writes one capture object per hour of the records' times.
func putCaptureRecords(tb testing.TB, b objstore.Bucket, endpoint string, recs []*capture.Record) {
	tb.Helper()
	byKey := map[string]*bytes.Buffer{}
	var keys []string
	for _, r := range recs {
		t, err := r.Time()
		if err != nil {
			tb.Fatal(err)
		}
		key := capture.ObjectKey(endpoint, "AllTraffic", t.Truncate(time.Hour), "0b7bfd33")
		if byKey[key] == nil {
			byKey[key] = &bytes.Buffer{}
			keys = append(keys, key)
		}
		if err := capture.AppendRecord(byKey[key], r); err != nil {
			tb.Fatal(err)
		}
	}
	for _, k := range keys {
		if err := b.Put(context.Background(), k, byKey[k]); err != nil {
			tb.Fatal(err)
		}
	}
}

// csvRecords returns n records, one a minute from start, with a CSV input
// "x,country" and a CSV output score.
func genCSVRecords(n int, start time.Time, seed uint64, mean, pDE float64) []*capture.Record {
	r := rand.New(rand.NewPCG(seed, 2))
	recs := make([]*capture.Record, n)
	for i := range recs {
		country := "FR"
		if r.Float64() < pDE {
			country = "DE"
		}
		x := mean + 2*r.NormFloat64()
		rec := capRecord(capIn("text/csv", fmt.Sprintf("%.3f,%s\n", x, country)), capOut("text/csv; charset=utf-8", fmt.Sprintf("%.4f", r.Float64())))
		rec.EventMetadata.EventID = fmt.Sprintf("e-%d-%d", seed, i)
		rec.EventMetadata.InferenceTime = start.Add(time.Duration(i) * time.Second).Format(capture.InferenceTimeLayout)
		recs[i] = rec
	}
	return recs
}

// baselineFor profiles the same kind of data as csvRecords.
func genBaseline(t *testing.T) (*monitor.Statistics, *monitor.Constraints) {
	t.Helper()
	names := []string{"score", "x", "country"}
	p := mustProfileValues(t, names, zipColumns(
		genColumn(3000, 11, func(r *rand.Rand) any { return r.Float64() }),
		genColumn(3000, 12, genNormal(10, 2)),
		genColumn(3000, 13, genPick([]string{"DE", "FR"}, []float64{0.5, 0.5}))))
	cons := &monitor.Constraints{
		Features: []monitor.FeatureConstraints{
			{Name: "score", InferredType: monitor.TypeFractional, Completeness: ptrTo(1.0)},
			{Name: "x", InferredType: monitor.TypeFractional, Completeness: ptrTo(1.0)},
			{Name: "country", InferredType: monitor.TypeString, Completeness: ptrTo(1.0), StringConstraints: &monitor.StringConstraints{Domains: []string{"DE", "FR"}}},
		},
		MonitoringConfig: monitor.DefaultMonitoringConfig(),
	}
	return &p.Statistics, cons
}

func TestRun_Windows(t *testing.T) {
	t.Parallel()
	b := mustFileBucket(t, t.TempDir())
	putCaptureRecords(t, b, "churn", genCSVRecords(400, runHour0, 1, 10, 0.5))                // hour 14: like the baseline
	putCaptureRecords(t, b, "churn", genCSVRecords(400, runHour0.Add(time.Hour), 2, 14, 0.1)) // hour 15: drifted
	base, cons := genBaseline(t)
	run := func(start time.Time) *monitor.Result {
		t.Helper()
		var progress []int64
		res, err := monitor.Run(context.Background(), monitor.RunOptions{
			Bucket: b, Endpoint: "churn", Start: start, End: start.Add(time.Hour),
			Baseline: base, Constraints: cons,
			Progress: func(n int64) { progress = append(progress, n) },
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(progress) == 0 || progress[len(progress)-1] != res.Records {
			t.Errorf("progress = %v, want it to end at %d", progress, res.Records)
		}
		return res
	}

	res := run(runHour0)
	if res.Status != monitor.StatusCompleted || len(res.Violations.Violations) != 0 || res.Drift.DatasetDrift {
		t.Errorf("window without drift: status %s, violations %+v, drift %+v", res.Status, res.Violations.Violations, res.Drift)
	}
	if res.Objects != 1 || res.Records != 400 || res.Rows != 400 || res.Skipped != 0 {
		t.Errorf("counts: objects %d records %d rows %d skipped %d", res.Objects, res.Records, res.Rows, res.Skipped)
	}
	var got []string
	for _, f := range res.Statistics.Features {
		got = append(got, f.Name)
	}
	if strings.Join(got, ",") != "score,x,country" {
		t.Errorf("features named %v, want the baseline's names by position", got)
	}

	res = run(runHour0.Add(time.Hour))
	if res.Status != monitor.StatusCompletedWithViolations {
		t.Fatalf("window with drift: status %s", res.Status)
	}
	if findViolation(res.Violations.Violations, "x", monitor.CheckBaselineDrift) == nil || findViolation(res.Violations.Violations, "country", monitor.CheckBaselineDrift) == nil {
		t.Errorf("violations = %+v", res.Violations.Violations)
	}
	if !res.Drift.DatasetDrift || res.Drift.DriftedFeatures != 2 {
		t.Errorf("drift = %+v", res.Drift)
	}

	// The report round-trips through the bucket.
	out := mustFileBucket(t, t.TempDir())
	if err := monitor.WriteReport(context.Background(), out, "reports/2024-05-02T15/", res, cons); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{monitor.StatisticsFile, monitor.ViolationsFile, monitor.DriftFile, monitor.ConstraintsFile} {
		rc, err := out.Get(context.Background(), "reports/2024-05-02T15/"+name)
		if err != nil {
			t.Fatalf("report file %s: %v", name, err)
		}
		rc.Close()
	}
	st, c2, err := monitor.LoadBaseline(context.Background(), out, "reports/2024-05-02T15")
	if err != nil || len(st.Features) != 3 || len(c2.Features) != 3 {
		t.Errorf("LoadBaseline = %v, %v, %v", st, c2, err)
	}
	_, _, err = monitor.LoadBaseline(context.Background(), out, "nowhere")
	if err == nil || !strings.Contains(err.Error(), "nowhere has no statistics.json") {
		t.Errorf("LoadBaseline of an empty prefix: %v", err)
	}
}

func TestRun_EmptyWindow(t *testing.T) {
	t.Parallel()
	b := mustFileBucket(t, t.TempDir())
	base, cons := genBaseline(t)
	opts := monitor.RunOptions{Bucket: b, Endpoint: "churn", Start: runHour0, End: runHour0.Add(time.Hour), Baseline: base, Constraints: cons}
	check := func(want string) {
		t.Helper()
		_, err := monitor.Run(context.Background(), opts)
		if !errors.Is(err, monitor.ErrNoData) || !strings.Contains(err.Error(), want) {
			t.Errorf("Run error = %v, want ErrNoData with %q", err, want)
		}
	}
	check("no capture objects under file://" + filepath.ToSlash(b.Root()) + "/churn/")

	putCaptureRecords(t, b, "churn", genCSVRecords(5, runHour0.Add(-3*time.Hour), 1, 10, 0.5))
	check("5 capture records exist but none between 2024-05-02T14:00:00Z and 2024-05-02T15:00:00Z (earliest 2024-05-02T11:00:00Z, latest 2024-05-02T11:00:04Z)")

	bad := genCSVRecords(3, runHour0, 2, 10, 0.5)
	for _, r := range bad {
		r.CaptureData.EndpointOutput.Data = "1\n2\n"
	}
	bad[0].CaptureData.EndpointInput = capIn("application/json", "{")
	putCaptureRecords(t, b, "churn", bad)
	check("all 3 records in the window were filtered out: row count mismatch (2), input: invalid json (1)")
}

func TestRun_SkipsBadLines(t *testing.T) {
	t.Parallel()
	b := mustFileBucket(t, t.TempDir())
	var buf bytes.Buffer
	for _, r := range genCSVRecords(3, runHour0, 1, 10, 0.5) {
		if err := capture.AppendRecord(&buf, r); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("{not a record\n")
	if err := b.Put(context.Background(), capture.ObjectKey("churn", "AllTraffic", runHour0, "x"), &buf); err != nil {
		t.Fatal(err)
	}
	res, err := monitor.Run(context.Background(), monitor.RunOptions{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 || res.Skipped != 1 || res.SkipReasons["invalid capture line"] != 1 || res.Drift != nil {
		t.Errorf("result = %+v", res)
	}
}

func TestRun_CSVInputJSONOutput(t *testing.T) {
	t.Parallel()
	b := mustFileBucket(t, t.TempDir())
	recs := genCSVRecords(300, runHour0, 1, 10, 0.5)
	for _, r := range recs {
		r.CaptureData.EndpointOutput = capOut("application/json", `{"score": `+r.CaptureData.EndpointOutput.Data+`}`)
	}
	putCaptureRecords(t, b, "churn", recs)
	base, cons := genBaseline(t)
	res, err := monitor.Run(context.Background(), monitor.RunOptions{Bucket: b, Baseline: base, Constraints: cons})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 300 || res.Status != monitor.StatusCompleted {
		t.Errorf("rows %d, status %s, violations %+v", res.Rows, res.Status, res.Violations.Violations)
	}
}

func TestRun_SageMakerCapture(t *testing.T) {
	t.Parallel()
	const dir = "../../../shared/datasets/sagemaker-churn"
	if _, err := os.Stat(dir); err != nil {
		// The shared data folder is never part of a user's checkout, so its
		// absence is not a missing test dependency: skip, even in CI.
		t.Skipf("SageMaker data set not available: %v", err)
	}
	// Baseline: the tutorial's training set, label first, as the tutorial does.
	f, err := os.Open(filepath.Join(dir, "training-dataset-with-header.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	header, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Split(strings.TrimSpace(header), ",")
	var rows [][]any
	for {
		line, err := br.ReadString('\n')
		if line = strings.TrimSpace(line); line != "" {
			var row []any
			for _, v := range strings.Split(line, ",") {
				x, perr := strconv.ParseFloat(v, 64)
				if perr != nil {
					t.Fatalf("training value %q: %v", v, perr)
				}
				row = append(row, x)
			}
			rows = append(rows, row)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	base := mustProfileValues(t, names, rows)

	// The captures as the SageMaker endpoint wrote them.
	b := mustFileBucket(t, filepath.Join(dir, "captured-by-sagemaker"))
	start := time.Date(2022, 4, 18, 0, 0, 0, 0, time.UTC)
	res, err := monitor.Run(context.Background(), monitor.RunOptions{
		Bucket: b, Endpoint: "DEMO-xgb-churn-pred-model-monitor-2022-04-18-00-13-16", Variant: "AllTraffic",
		Start: start, End: start.Add(time.Hour), Baseline: &base.Statistics,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3 || res.Rows != 3 || res.Objects != 1 || len(res.Statistics.Features) != len(names) {
		t.Fatalf("records %d rows %d objects %d features %d", res.Records, res.Rows, res.Objects, len(res.Statistics.Features))
	}
	for _, v := range res.Violations.Violations {
		if v.ConstraintCheckType == monitor.CheckMissingColumn || v.ConstraintCheckType == monitor.CheckExtraColumn {
			t.Errorf("columns not matched by position: %+v", v)
		}
	}
}
