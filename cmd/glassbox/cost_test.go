package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

func TestCostReport(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "glassbox.yaml")
	yaml := `storage:
  blob: file://` + filepath.ToSlash(data) + `
  spool: ` + filepath.Join(dir, "spool") + `
endpoints:
  - name: fraud
    tags: {owner: ana, cost-center: cc-42}
    variants: [{name: v1, upstream: "http://127.0.0.1:9"}]
  - name: churn
    tags: {owner: bo}
    variants: [{name: main, upstream: "http://127.0.0.1:9"}]
cost:
  budgets:
    - {name: cc-42, tag: {cost-center: cc-42}, monthly: 0.0001}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	put := func(endpoint, variant string, at time.Time, id string, n int) {
		t.Helper()
		p := filepath.Join(data, filepath.FromSlash(capture.ObjectKey(endpoint, variant, at, id)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for day := 1; day <= 20; day++ {
		put("fraud", "v1", time.Date(2026, 11, day, 5, 0, 0, 0, time.UTC), "a", 1000+day%3)
	}
	put("fraud", "v1", time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC), "spike", 1_000_000)
	put("churn", "main", time.Date(2026, 11, 2, 5, 0, 0, 0, time.UTC), "old", 10)

	var out, errOut bytes.Buffer
	code := run([]string{"cost", "report", "--config", cfg, "--now", "2026-11-22T12:00:00Z", "--by", "tag:owner", "-o", "json"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Lines []struct {
			Group       string `json:"group"`
			BytesStored int64  `json:"bytes_stored"`
		} `json:"lines"`
		Alerts struct {
			Budgets []struct {
				Exceeded bool `json:"exceeded"`
			} `json:"budgets"`
			Anomalies []struct {
				Endpoint string `json:"endpoint"`
			} `json:"anomalies"`
			Idle []struct {
				Endpoint string `json:"endpoint"`
			} `json:"idle"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(got.Lines) != 2 || got.Lines[0].Group != "ana" || got.Lines[1].Group != "bo" || got.Lines[1].BytesStored != 10 {
		t.Errorf("lines = %+v", got.Lines)
	}
	if len(got.Alerts.Budgets) != 1 || !got.Alerts.Budgets[0].Exceeded {
		t.Errorf("budgets = %+v", got.Alerts.Budgets)
	}
	if len(got.Alerts.Anomalies) != 1 || got.Alerts.Anomalies[0].Endpoint != "fraud" {
		t.Errorf("anomalies = %+v", got.Alerts.Anomalies)
	}
	if len(got.Alerts.Idle) != 1 || got.Alerts.Idle[0].Endpoint != "churn" {
		t.Errorf("idle = %+v", got.Alerts.Idle)
	}

	out.Reset()
	if code := run([]string{"cost", "report", "-c", cfg, "--now", "2026-11-22T12:00:00Z", "--by", "variant", "-o", "csv"}, &out, &errOut); code != exitOK {
		t.Fatalf("csv: exit %d: %s", code, errOut.String())
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != 4 || rows[1][0] != "churn/main" || rows[2][0] != "fraud/v1" || rows[3][0] != "total" {
		t.Errorf("csv = %v, %v", rows, err)
	}

	out.Reset()
	if code := run([]string{"cost", "report", "-c", cfg, "--now", "2026-11-22T12:00:00Z"}, &out, &errOut); code != exitOK ||
		!strings.Contains(out.String(), "EXCEEDED cc-42") || !strings.Contains(out.String(), "Idle: endpoint churn") {
		t.Errorf("table: exit %d:\n%s", code, out.String())
	}
	for _, args := range [][]string{
		{"cost", "report"},
		{"cost", "report", "-c", cfg, "--by", "owner"},
		{"cost", "report", "-c", cfg, "--month", "2026-13"},
		{"cost", "report", "-c", cfg, "-o", "xml"},
		{"cost", "report", "-c", cfg, "--now", "2026-11-22T12:00:00Z", "--month", "2026-12"},
	} {
		if code := run(args, &out, &errOut); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestCostReport_notify(t *testing.T) {
	var mu sync.Mutex
	var types []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct {
			Type string `json:"type"`
		}
		_ = json.NewDecoder(r.Body).Decode(&n)
		mu.Lock()
		types = append(types, n.Type)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "glassbox.yaml")
	yaml := `storage:
  blob: file://` + filepath.ToSlash(filepath.Join(dir, "data")) + `
  spool: ` + filepath.Join(dir, "spool") + `
endpoints:
  - name: quiet
    variants: [{name: v1, upstream: "http://127.0.0.1:9"}]
monitoring:
  webhooks: [{name: finops, url: "` + srv.URL + `"}]
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"cost", "report", "-c", cfg, "--notify"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(types) != 1 || types[0] != "cost.idle" || !strings.Contains(errOut.String(), "sent 1 alerts") {
		t.Errorf("deliveries %v, stderr %s", types, errOut.String())
	}
}
