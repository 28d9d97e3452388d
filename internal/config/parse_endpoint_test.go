package config_test

import (
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParseEndpoint(t *testing.T) {
	pol := config.Policies{RequiredTags: []string{"owner"}, MinSamplingPercent: map[string]float64{"default": 10}}
	good := []string{
		"name: churn\ntags: {owner: risk}\nvariants:\n  - name: A\n    upstream: http://127.0.0.1:9001\n",
		`{"name":"churn","tags":{"owner":"risk"},"variants":[{"name":"A","upstream":"http://127.0.0.1:9001"}],"capture":{"sampling_percent":50}}`,
	}
	for _, spec := range good {
		e, err := config.ParseEndpoint([]byte(spec), pol)
		if err != nil {
			t.Fatalf("ParseEndpoint(%q): %v", spec, err)
		}
		if e.Name != "churn" || e.Variants[0].Weight != 1 || !e.Capture.IsEnabled() {
			t.Errorf("ParseEndpoint(%q) = %+v, want defaults applied", spec, e)
		}
		// The normalized form parses back to the same endpoint.
		b, err := config.MarshalEndpoint(e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := config.ParseEndpoint(b, pol)
		if err != nil || again.Name != e.Name || again.Capture.Sampling() != e.Capture.Sampling() {
			t.Errorf("round trip of %q: %v, %+v", b, err, again)
		}
	}
	bad := map[string]string{
		"name: churn\nvariants: [{name: A, upstream: http://x}]\n":                                                   `tags: policy required_tags: tag "owner" is missing`,
		"name: churn\ntags: {owner: a}\nvariants: [{name: A, upstream: http://x}]\ncapture: {sampling_percent: 5}\n": "capture.sampling_percent: policy min_sampling_percent.default: must be at least 10",
		"name: churn\ntags: {owner: a}\nvariants: [{name: A, upstream: http://x}]\ncapture: {sampling_pct: 5}\n":     "capture.sampling_pct: unknown key",
		"[1, 2]": "must be a mapping",
		"{":      "not a YAML or JSON",
	}
	for spec, want := range bad {
		_, err := config.ParseEndpoint([]byte(spec), pol)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseEndpoint(%q) error = %v, want it to contain %q", spec, err, want)
		}
	}
}
