package config_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParse_redact(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/redact.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []config.RedactRule{
		{Detector: "email", Action: "hash"},
		{Detector: "payment_card", Action: "mask"},
		{JSONPath: "$.applicant.ssn", Action: "drop"},
		{CSVColumn: "3", Action: "mask"},
	}
	if diff := cmp.Diff(want, cfg.Endpoints[0].Capture.Redact); diff != "" {
		t.Errorf("endpoints[0].capture.redact (-want +got):\n%s", diff)
	}
	if got := cfg.Endpoints[1].Capture.Redact[3].JSONPath; got != "$.instances[*]['e-mail']" {
		t.Errorf("bracketed path = %q", got)
	}
}

func TestParse_redactRoundTrip(t *testing.T) {
	// Endpoints are stored as YAML (MarshalEndpoint) and parsed back.
	cfg, err := config.Parse(mustReadFile(t, "testdata/redact.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Endpoints {
		b, err := config.MarshalEndpoint(&cfg.Endpoints[i])
		if err != nil {
			t.Fatal(err)
		}
		e, err := config.ParseEndpoint(b, cfg.Policies)
		if err != nil {
			t.Fatalf("ParseEndpoint(%s): %v", b, err)
		}
		if diff := cmp.Diff(cfg.Endpoints[i].Capture.Redact, e.Capture.Redact); diff != "" {
			t.Errorf("endpoints[%d] redact after a round trip (-want +got):\n%s", i, diff)
		}
	}
}

func TestValidate_redactPaths(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"$.applicant.ssn", true},
		{"$['applicant']['ssn']", true},
		{`$["a b"][0].c`, true},
		{"$.items[*].email", true},
		{"$.*", true},
		{"$", false},
		{"$..ssn", false},
		{"$.a[?(@.x)]", false},
		{"$.a[1:2]", false},
		{"$.a[", false},
		{"$.a[2000000000]", false},
		{"applicant", false},
	} {
		e := config.DefaultEndpoint()
		e.Name = "churn"
		e.Variants = []config.Variant{{Name: "AllTraffic", Upstream: "http://127.0.0.1:1", Weight: 1, InvocationsPath: "/invocations"}}
		e.ApplyDefaults()
		e.Capture.Redact = []config.RedactRule{{JSONPath: tc.path, Action: "mask"}}
		cfg := config.Default()
		cfg.Endpoints = []config.Endpoint{e}
		err := cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("json_path %q: Validate() = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
}
