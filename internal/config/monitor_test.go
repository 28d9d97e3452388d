package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParse_monitor(t *testing.T) {
	unsetenv(t, "GLASSBOX_TEST_WEBHOOK_SECRET")
	cfg, err := config.Parse(mustReadFile(t, "testdata/monitor.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Monitor{
		Baseline: "s3://ml-baselines/churn/v3",
		Input: config.RowAssembly{Format: "json", Columns: []config.Column{
			{Name: "age", Path: "$.applicant.age"}, {Name: "plan", Path: "$.plan"}}},
		Output: config.RowAssembly{Format: "json", Columns: []config.Column{{Name: "score", Path: "$.predictions[0].score"}}},
		Drift: config.Drift{ShareThreshold: 0.3, Features: map[string]config.FeatureDrift{
			"age": {Method: "psi", Threshold: 0.2}, "plan": {Method: "chisquare", Threshold: 0.1}}},
		Schedules: []config.MonitorSchedule{
			{Name: "hourly", Cron: "cron(0 * ? * * *)"},
			{Name: "daily-noon", Cron: "cron(0 12 ? * * *)", Window: config.Duration(6 * time.Hour), Offset: config.Duration(10 * time.Minute)},
			{Name: "every-6h", Cron: "@every 6h"},
		},
	}
	if diff := cmp.Diff(want, cfg.Endpoints[0].Monitor); diff != "" {
		t.Errorf("churn monitor (-want +got):\n%s", diff)
	}
	// Left-out keys keep their defaults.
	fraud := cfg.Endpoints[1].Monitor
	if fraud.Input.Format != "auto" || fraud.Output.Format != "auto" || fraud.Drift.ShareThreshold != 0.5 || fraud.Baseline != "./baselines/fraud" {
		t.Errorf("fraud monitor = %+v, want defaults", fraud)
	}
	wantMon := config.Monitoring{ReportsPrefix: "reports/glassbox", Webhooks: []config.Webhook{
		{Name: "ops", URL: "https://hooks.example.com/glassbox?channel=ml", Secret: "dev-secret",
			Timeout: config.Duration(10 * time.Second), MaxAttempts: 5},
		{Name: "pager", URL: "http://127.0.0.1:9099/alert", Timeout: config.Duration(3 * time.Second), MaxAttempts: 2},
	}}
	if diff := cmp.Diff(wantMon, cfg.Monitoring); diff != "" {
		t.Errorf("monitoring (-want +got):\n%s", diff)
	}

	t.Setenv("GLASSBOX_TEST_WEBHOOK_SECRET", "from-env")
	cfg, err = config.Parse(mustReadFile(t, "testdata/monitor.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Monitoring.Webhooks[0].Secret; s != "from-env" {
		t.Errorf("secret = %q, want it from the environment", s)
	}
}

func TestParseEndpoint_monitorRoundTrip(t *testing.T) {
	spec := `{"name": "churn", "variants": [{"name": "A", "upstream": "http://127.0.0.1:9001"}],
		"monitor": {"baseline": "file:///srv/baselines/churn",
			"input": {"format": "json", "columns": [{"name": "age", "path": "$.applicant.age"}]},
			"drift": {"features": {"age": {"method": "wasserstein", "threshold": 3}}},
			"schedules": [{"name": "hourly", "cron": "cron(0 * ? * * *)", "offset": "15m"},
				{"name": "daily", "cron": "@daily", "window": "6h"}]}}`
	e, err := config.ParseEndpoint([]byte(spec), config.Policies{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := config.MarshalEndpoint(e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := config.ParseEndpoint(b, config.Policies{})
	if err != nil {
		t.Fatalf("re-parse of %s: %v", b, err)
	}
	if diff := cmp.Diff(e, again, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-first +second):\n%s\nnormalized:\n%s", diff, b)
	}
	if again.Monitor.Schedules[0].Offset != config.Duration(15*time.Minute) || again.Monitor.Input.Columns[0].Path != "$.applicant.age" {
		t.Errorf("monitor after round trip = %+v", again.Monitor)
	}
	// An endpoint without a monitor block round-trips to the defaults.
	plain, err := config.ParseEndpoint([]byte(`{"name": "plain", "variants": [{"name": "A", "upstream": "http://127.0.0.1:9001"}]}`), config.Policies{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = config.MarshalEndpoint(plain)
	if again, err := config.ParseEndpoint(b, config.Policies{}); err != nil || !cmp.Equal(plain, again, cmpopts.EquateEmpty()) {
		t.Errorf("round trip of a plain endpoint: %v\n%s", err, b)
	}
	// Problems in the monitor block are reported relative to the endpoint.
	_, err = config.ParseEndpoint([]byte(`{"name": "churn", "variants": [{"name": "A", "upstream": "http://127.0.0.1:9001"}],
		"monitor": {"schedules": [{"name": "x", "cron": "@weekly"}]}}`), config.Policies{})
	for _, want := range []string{"monitor.baseline: is required", `monitor.schedules[0].cron: invalid schedule "@weekly"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	_, err = config.ParseEndpoint([]byte(`{"name": "reports", "variants": [{"name": "A", "upstream": "http://127.0.0.1:9001"}]}`), config.Policies{})
	if err == nil || !strings.Contains(err.Error(), "is reserved") {
		t.Errorf("endpoint named reports: %v", err)
	}
}

func TestEndpoint_ApplyDefaults_monitor(t *testing.T) {
	e := config.Endpoint{Name: "churn", Variants: []config.Variant{{Name: "a", Upstream: "http://127.0.0.1:9001", Weight: 1}}}
	e.ApplyDefaults()
	if diff := cmp.Diff(config.DefaultMonitor(), e.Monitor); diff != "" {
		t.Errorf("monitor after ApplyDefaults (-want +got):\n%s", diff)
	}
	cfg := config.Default()
	cfg.Endpoints = []config.Endpoint{e}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestSchedulePeriod(t *testing.T) {
	good := map[string]time.Duration{
		"cron(0 * ? * * *)":       time.Hour,
		"cron(0 12 ? * * *)":      24 * time.Hour,
		"cron(0 17/12 ? * * *)":   24 * time.Hour, // steps do not wrap past 23
		"cron(0 5/12 ? * * *)":    12 * time.Hour,
		"cron(0 9 ? * MON-FRI *)": 24 * time.Hour,
		"cron(0 9 ? * 1 *)":       7 * 24 * time.Hour,
		"15 * * * *":              time.Hour,
		"@hourly":                 time.Hour,
		"@daily":                  24 * time.Hour,
		"@every 6h":               6 * time.Hour,
	}
	for expr, want := range good {
		if got, err := config.SchedulePeriod(expr); err != nil || got != want {
			t.Errorf("SchedulePeriod(%q) = %v, %v; want %v", expr, got, err, want)
		}
	}
	for _, expr := range []string{"", "* * * * *", "@weekly", "@every 30m", "cron(0 * * * * *)", "cron(0 * ? * * 2026)",
		"cron(0 9 ? * 0 *)", "cron(0 0 L * ? *)", "0 0 30 2 *", "0 * * *"} {
		if _, err := config.SchedulePeriod(expr); err == nil {
			t.Errorf("SchedulePeriod(%q) succeeded", expr)
		}
	}
}
