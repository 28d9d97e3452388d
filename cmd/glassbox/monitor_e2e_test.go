package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// churnDir is the SageMaker Model Monitor tutorial's data set, shipped with
// the project's shared folder but absent from a user's checkout.
const churnDir = "../../../shared/datasets/sagemaker-churn"

// churnFile returns the path of a churn data file or skips the test when the
// shared folder is absent (it is never part of a user's checkout, so this is
// not a missing test dependency).
func churnFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(churnDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data set absent: %v", err)
	}
	return p
}

// churnScore is the test model: a deterministic probability from a few
// features of a CSV row, so the output column is Fractional in [0, 1).
func churnScore(row string) string {
	f := strings.Split(strings.TrimSpace(row), ",")
	x := 0.0
	for i, w := range map[int]float64{2: 0.01, 9: 0.3, 0: 0.002} {
		if i < len(f) {
			v, _ := strconv.ParseFloat(f[i], 64)
			x += w * v
		}
	}
	return strconv.FormatFloat(1/(1+math.Exp(-(x-4))), 'f', 6, 64)
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestMonitor_ChurnTutorial replays SageMaker's Model Monitor tutorial: a
// baseline of the training set, the test rows sent through the gateway and
// captured, then a monitoring run over the window.
func TestMonitor_ChurnTutorial(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gateway end to end")
	}
	train := churnFile(t, "training-dataset-with-header.csv")
	traffic := churnFile(t, "test-dataset-input-cols.csv")
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline")

	// 1. Baseline.
	out, errOut, code := runCLI(t, "baseline", "--dataset", train, "--format", "csv", "--header",
		"--output", baseline, "--summary", "json")
	if code != 0 {
		t.Fatalf("baseline exit %d: %s", code, errOut)
	}
	var bs baselineSummary
	if err := json.Unmarshal([]byte(out), &bs); err != nil {
		t.Fatalf("baseline summary: %v\n%s", err, out)
	}
	if bs.Rows != 2333 || len(bs.Features) != 70 || bs.Features[0].Name != "Churn" {
		t.Fatalf("baseline summary: %d rows, %d features, first %+v; want 2333 rows, 70 features, Churn first",
			bs.Rows, len(bs.Features), bs.Features[0])
	}
	stats := readStatistics(t, filepath.Join(baseline, monitor.StatisticsFile))
	if stats.Features[0].InferredType != monitor.TypeIntegral {
		t.Errorf("Churn inferred as %s, want Integral", stats.Features[0].InferredType)
	}

	// 2. Traffic through the gateway, every request captured.
	m := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprint(w, churnScore(string(body)))
	})
	g := startGateway(t, endpointYAML("churn", m.URL, ""))
	f, err := os.Open(traffic)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sent := 0
	begin := time.Now().UTC().Add(-time.Second)
	for sc.Scan() {
		resp, body := post(t, g.URL+"/endpoints/churn/invocations", "text/csv", sc.Bytes(), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("invocation %d: %d %s", sent, resp.StatusCode, body)
		}
		sent++
	}
	g.Stop(t) // flush every record to the blob store
	end := time.Now().UTC().Add(time.Second)

	// 3. A monitoring run over the window.
	report := filepath.Join(dir, "report")
	out, errOut, code = runCLI(t, "monitor", "run", "--capture", g.Data, "--endpoint", "churn",
		"--baseline", baseline, "--start", begin.Format(time.RFC3339), "--end", end.Format(time.RFC3339),
		"--output", report, "--summary", "json")
	if code != exitViolations {
		t.Fatalf("monitor run exit %d (want %d: the tutorial's traffic violates its baseline): %s\n%s", code, exitViolations, errOut, out)
	}
	var ms monitorSummary
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("monitor summary: %v\n%s", err, out)
	}
	if ms.Records != int64(sent) || ms.Rows != int64(sent) || ms.Skipped != 0 {
		t.Errorf("monitored %d records, %d rows, %d skipped; want %d each, 0 skipped", ms.Records, ms.Rows, ms.Skipped, sent)
	}
	cur := readStatistics(t, filepath.Join(report, monitor.StatisticsFile))
	if cur.Dataset.ItemCount != int64(sent) || len(cur.Features) != 70 {
		t.Fatalf("window statistics: %d items, %d features; want %d, 70", cur.Dataset.ItemCount, len(cur.Features), sent)
	}
	// Output first, then input, matched to the baseline by position.
	for i, f := range cur.Features {
		if f.Name != stats.Features[i].Name {
			t.Fatalf("window feature %d is %q, baseline's is %q", i, f.Name, stats.Features[i].Name)
		}
	}
	// The model answers probabilities where the baseline has 0/1 labels, and
	// the tutorial's first traffic row carries fractions in integer columns:
	// both must be reported as data type violations.
	byFeature := map[string][]string{}
	for _, v := range ms.Violations {
		byFeature[v.FeatureName] = append(byFeature[v.FeatureName], v.ConstraintCheckType)
	}
	for _, name := range []string{"Churn", "VMail Message"} {
		if !contains(byFeature[name], monitor.CheckDataType) {
			t.Errorf("no data_type_check for %q; violations: %v", name, byFeature)
		}
	}
	raw, err := os.ReadFile(filepath.Join(report, monitor.ViolationsFile))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk monitor.Violations
	if err := json.Unmarshal(raw, &onDisk); err != nil || len(onDisk.Violations) != len(ms.Violations) {
		t.Errorf("constraint_violations.json holds %d violations (err %v), summary %d", len(onDisk.Violations), err, len(ms.Violations))
	}
	for _, name := range []string{monitor.DriftFile, monitor.ConstraintsFile} {
		if _, err := os.Stat(filepath.Join(report, name)); err != nil {
			t.Errorf("report lacks %s: %v", name, err)
		}
	}

	// An empty window fails (exit 1) and says why.
	_, errOut, code = runCLI(t, "monitor", "run", "--capture", g.Data, "--endpoint", "churn",
		"--baseline", baseline, "--start", "2020-01-01T00:00:00Z", "--end", "2020-01-01T01:00:00Z",
		"--output", filepath.Join(dir, "empty"))
	if code != exitError || !strings.Contains(errOut, "none between") {
		t.Errorf("empty window: exit %d, stderr %q; want exit 1 naming the window", code, errOut)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readStatistics(t *testing.T, path string) *monitor.Statistics {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := monitor.ReadStatistics(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// TestMonitor_ReadsSageMakerCaptures runs the monitor over the records a
// real SageMaker endpoint wrote during the tutorial.
func TestMonitor_ReadsSageMakerCaptures(t *testing.T) {
	train := churnFile(t, "training-dataset-with-header.csv")
	captured := churnFile(t, "captured-by-sagemaker")
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline")
	if _, errOut, code := runCLI(t, "baseline", "--dataset", train, "--header", "--output", baseline); code != 0 {
		t.Fatalf("baseline exit %d: %s", code, errOut)
	}
	out, errOut, code := runCLI(t, "monitor", "run", "--capture", captured,
		"--baseline", baseline, "--start", "2022-04-18T00:00:00Z", "--end", "2022-04-18T01:00:00Z",
		"--output", filepath.Join(dir, "report"), "--summary", "json")
	if code != exitOK && code != exitViolations {
		t.Fatalf("monitor run exit %d: %s", code, errOut)
	}
	var ms monitorSummary
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	if ms.Records != 3 || ms.Rows != 3 {
		t.Errorf("read %d records, %d rows from SageMaker's captures; want 3 and 3", ms.Records, ms.Rows)
	}
}
