package capture_test

import (
	"context"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

func TestSample_Extremes(t *testing.T) {
	tests := []struct {
		name    string
		percent float64
		want    bool
	}{
		{name: "0 never", percent: 0, want: false},
		{name: "negative never", percent: -10, want: false},
		{name: "100 always", percent: 100, want: true},
		{name: "above 100 always", percent: 250, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 10000 {
				if got := capture.Sample(tt.percent); got != tt.want {
					t.Fatalf("draw %d: Sample(%v) = %v, want %v", i, tt.percent, got, tt.want)
				}
			}
		})
	}
}

// TestSample_Rate draws n times at 25 % and accepts counts within 6 standard
// deviations of the mean; a correct sampler fails with probability ~2e-9.
func TestSample_Rate(t *testing.T) {
	tests := []struct {
		name    string
		percent float64
	}{
		{name: "25 percent", percent: 25},
		{name: "1 percent", percent: 1},
		{name: "99.5 percent", percent: 99.5},
	}
	const n = 20000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.percent / 100
			mean := n * p
			bound := 6 * math.Sqrt(n*p*(1-p))
			got := 0
			for range n {
				if capture.Sample(tt.percent) {
					got++
				}
			}
			if math.Abs(float64(got)-mean) > bound {
				t.Errorf("Sample(%v) true %d times of %d, want %.0f ± %.0f", tt.percent, got, n, mean, bound)
			}
		})
	}
}

func TestSpool_Sample(t *testing.T) {
	tests := []struct {
		name           string
		policy         capture.Policy
		want           bool
		wantSampled    float64
		wantSampledOut float64
	}{
		{name: "disabled is never sampled nor counted", policy: capture.Policy{Endpoint: "ep", SamplingPercent: 100}, want: false},
		{name: "enabled 100", policy: capture.Policy{Endpoint: "ep", Enabled: true, SamplingPercent: 100}, want: true, wantSampled: 5},
		{name: "enabled 0", policy: capture.Policy{Endpoint: "ep", Enabled: true, SamplingPercent: 0}, want: false, wantSampledOut: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p, err := capture.OpenSpool(newBucket(t), capture.SpoolOptions{Dir: t.TempDir(), Metrics: capture.NewMetrics(reg)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := p.Close(context.Background()); err != nil {
					t.Error(err)
				}
			})
			for range 5 {
				if got := p.Sample(&tt.policy); got != tt.want {
					t.Fatalf("Sample() = %v, want %v", got, tt.want)
				}
			}
			ep := map[string]string{"endpoint": "ep"}
			if got := metricValue(t, reg, "glassbox_capture_sampled_total", ep); got != tt.wantSampled {
				t.Errorf("sampled_total = %v, want %v", got, tt.wantSampled)
			}
			if got := metricValue(t, reg, "glassbox_capture_sampled_out_total", ep); got != tt.wantSampledOut {
				t.Errorf("sampled_out_total = %v, want %v", got, tt.wantSampledOut)
			}
		})
	}
}
