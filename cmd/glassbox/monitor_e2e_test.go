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
	"github.com/glassbox-dev/glassbox/internal/notify"
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

// TestMonitor_ServeRunNowWebhookMetrics drives the monitor of a running
// server: captured traffic, a manual run of a schedule through the API, the
// report in the blob store, a signed webhook delivery and the metrics.
func TestMonitor_ServeRunNowWebhookMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server end to end")
	}
	train := churnFile(t, "training-dataset-with-header.csv")
	traffic := churnFile(t, "test-dataset-input-cols.csv")
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline")
	if _, errOut, code := runCLI(t, "baseline", "--dataset", train, "--header", "--output", baseline); code != 0 {
		t.Fatalf("baseline exit %d: %s", code, errOut)
	}

	type delivery struct {
		body      []byte
		ts, sig   string
		delivered string
	}
	hooks := make(chan delivery, 4)
	hook := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- delivery{b, r.Header.Get("X-Glassbox-Timestamp"), r.Header.Get("X-Glassbox-Signature"), r.Header.Get("X-Glassbox-Delivery")}
	})
	m := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprint(w, churnScore(string(body)))
	})
	t.Setenv(BootstrapTokenEnv, testAdminToken)
	t.Setenv("HOOK_SECRET", "s3cret")
	yaml := cpConfig(dir, "", m.URL) + fmt.Sprintf(`    monitor:
      baseline: %s
      schedules:
        - {name: hourly, cron: "cron(0 * ? * * *)"}
monitoring:
  webhooks:
    - {name: ops, url: %q, secret: "${HOOK_SECRET}", max_attempts: 2}
`, baseline, hook.URL)
	s := startServer(t, yaml)

	f, err := os.Open(traffic)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	begin := time.Now().UTC().Add(-time.Second)
	sent := 0
	for sc.Scan() {
		resp, body := post(t, s.URL+"/endpoints/churn/invocations", "text/csv", sc.Bytes(), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("invocation: %d %s", resp.StatusCode, body)
		}
		sent++
	}
	// Captures reach the blob store once their object is sealed
	// (max_object_seconds: 1) and uploaded; wait until all are there.
	deadline := time.Now().Add(15 * time.Second)
	for countCaptured(t, filepath.Join(dir, "data"), "churn") < sent {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records reached the blob store", countCaptured(t, filepath.Join(dir, "data"), "churn"), sent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The window must end in the past: wait out the last record's second.
	time.Sleep(1100 * time.Millisecond)
	end := time.Now().UTC().Truncate(time.Second)

	var exec struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		Reason     string `json:"reason"`
		Violations int    `json:"violations"`
		ReportURI  string `json:"report_uri"`
	}
	body := fmt.Sprintf(`{"start":%q,"end":%q}`, begin.Format(time.RFC3339), end.Format(time.RFC3339))
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/endpoints/churn/monitor/schedules/hourly/run", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("run now: %d %s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &exec); err != nil {
		t.Fatalf("run now: %v: %s", err, raw)
	}
	if exec.Status != monitor.ExecutionCompletedWithViolations || exec.Violations == 0 {
		t.Fatalf("execution %+v; want CompletedWithViolations (the model answers probabilities, the baseline has labels)", exec)
	}
	if !strings.Contains(exec.Reason, fmt.Sprintf("%d records", sent)) {
		t.Errorf("execution reason %q does not count the %d records", exec.Reason, sent)
	}
	// The report is in the blob store under reports/{endpoint}/{schedule}/yyyy/mm/dd/HH.
	rel := strings.TrimPrefix(exec.ReportURI, "file://")
	for _, name := range []string{monitor.StatisticsFile, monitor.ViolationsFile, monitor.DriftFile} {
		if _, err := os.Stat(filepath.Join(rel, name)); err != nil {
			t.Errorf("report %s: %v", name, err)
		}
	}
	if !strings.Contains(exec.ReportURI, "/reports/churn/hourly/") {
		t.Errorf("report URI %s is not under reports/churn/hourly/", exec.ReportURI)
	}

	// The execution is listed (beside the scheduled run of the hour that
	// just passed, which the scheduler catches up on at start and which
	// fails: there were no captures then), and a webhook delivery for it
	// arrived, signed.
	var list struct {
		Items []struct {
			ID     string `json:"id"`
			Manual bool   `json:"manual"`
		} `json:"items"`
	}
	code := apiGet(t, s, testAdminToken, "/api/v1/endpoints/churn/monitor/executions", &list)
	listed := false
	for _, it := range list.Items {
		listed = listed || (it.ID == exec.ID && it.Manual)
	}
	if code != 200 || !listed {
		t.Errorf("executions list: %d %+v; want the manual execution %s", code, list, exec.ID)
	}
	timeout := time.After(10 * time.Second)
	for found := false; !found; {
		select {
		case d := <-hooks:
			if err := notify.Verify("s3cret", d.ts, d.body, d.sig); err != nil {
				t.Errorf("webhook signature: %v", err)
			}
			if !strings.Contains(string(d.body), exec.ID) {
				continue // the failed catch-up run
			}
			found = true
			if !strings.Contains(string(d.body), monitor.CheckDataType) {
				t.Errorf("webhook body lacks the violations: %s", d.body)
			}
		case <-timeout:
			t.Fatal("no webhook delivery for the execution with violations")
		}
	}

	// Metrics per endpoint and feature.
	resp, err = http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`glassbox_monitor_feature_completeness_ratio{endpoint="churn",feature="Churn"} 1`,
		`glassbox_monitor_violations{check_type="data_type_check",endpoint="churn"}`,
		`glassbox_monitor_last_execution_status{endpoint="churn",schedule="hourly",status="CompletedWithViolations"} 1`,
		`glassbox_monitor_feature_drift_distance{endpoint="churn",feature="Day Mins"`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// countCaptured counts the capture lines of an endpoint in a blob folder.
func countCaptured(t *testing.T, data, endpoint string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(filepath.Join(data, endpoint), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			n += bytes.Count(b, []byte("\n"))
		}
		return nil
	})
	return n
}
