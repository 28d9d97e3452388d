package config_test

import (
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParse_retention(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/retention.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const day = 24 * time.Hour
	for i, want := range []struct {
		objects, payloads time.Duration
		has               bool
	}{
		{90 * day, 7 * day, true},
		{0, 30 * day, true}, // payloads stripped, objects kept forever
		{0, 0, false},       // the default: keep everything
	} {
		c := &cfg.Endpoints[i].Capture
		objects, payloads := c.Retention()
		if objects != want.objects || payloads != want.payloads || c.HasRetention() != want.has {
			t.Errorf("endpoints[%d]: Retention() = %v, %v, HasRetention() = %v; want %v, %v, %v",
				i, objects, payloads, c.HasRetention(), want.objects, want.payloads, want.has)
		}
	}
}

func TestParse_retentionRoundTrip(t *testing.T) {
	// Endpoints are stored as YAML (MarshalEndpoint) and parsed back.
	cfg, err := config.Parse(mustReadFile(t, "testdata/retention.good.yaml"))
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
		got, want := e.Capture, cfg.Endpoints[i].Capture
		if got.RetentionDays != want.RetentionDays || got.PayloadRetentionDays != want.PayloadRetentionDays {
			t.Errorf("endpoints[%d] retention after a round trip = %d, %d; want %d, %d", i,
				got.RetentionDays, got.PayloadRetentionDays, want.RetentionDays, want.PayloadRetentionDays)
		}
	}
}

func TestValidate_retentionBounds(t *testing.T) {
	for _, tc := range []struct {
		objects, payloads int
		ok                bool
	}{
		{0, 0, true},
		{1, 0, true},
		{0, 1, true},
		{2, 1, true},
		{36500, 36499, true},
		{1, 1, false}, // payloads must expire strictly first
		{1, 2, false},
		{-1, 0, false},
		{0, -1, false},
		{36501, 0, false},
	} {
		e := config.DefaultEndpoint()
		e.Name = "churn"
		e.Variants = []config.Variant{{Name: "AllTraffic", Upstream: "http://127.0.0.1:8080", Weight: 1, InvocationsPath: "/invocations"}}
		e.ApplyDefaults()
		e.Capture.RetentionDays, e.Capture.PayloadRetentionDays = tc.objects, tc.payloads
		cfg := config.Default()
		cfg.Endpoints = []config.Endpoint{e}
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("retention_days %d, payload_retention_days %d: Validate() = %v, want ok = %v", tc.objects, tc.payloads, err, tc.ok)
		}
	}
}
