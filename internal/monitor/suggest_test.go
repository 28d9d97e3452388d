package monitor_test

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/monitor"
)

func TestSuggestConstraints(t *testing.T) {
	p := monitor.NewProfiler(monitor.ProfilerOptions{Names: []string{"count", "delta", "plan", "user", "never"}})
	for i := range 40 {
		delta := "0.5"
		if i == 3 {
			delta = "-1.5"
		}
		count := strconv.Itoa(i)
		if i%4 == 0 {
			count = ""
		}
		p.Add(csvRow(count, delta, []string{"gold", "silver", "bronze"}[i%3], "user"+strconv.Itoa(i), ""))
	}
	got := monitor.SuggestConstraints(p.Profile())
	ptr := func(f float64) *float64 { return &f }
	yes, no := true, false
	want := &monitor.Constraints{
		Version: 0,
		Features: []monitor.FeatureConstraints{
			{Name: "count", InferredType: monitor.TypeIntegral, Completeness: ptr(0.75), NumConstraints: &monitor.NumConstraints{IsNonNegative: &yes}},
			{Name: "delta", InferredType: monitor.TypeFractional, Completeness: ptr(1), NumConstraints: &monitor.NumConstraints{IsNonNegative: &no}},
			{Name: "plan", InferredType: monitor.TypeString, Completeness: ptr(1), StringConstraints: &monitor.StringConstraints{Domains: []string{"bronze", "gold", "silver"}}},
			{Name: "user", InferredType: monitor.TypeString, Completeness: ptr(1)}, // 40 values: no domain
			{Name: "never", InferredType: monitor.TypeUnknown, Completeness: ptr(0)},
		},
		MonitoringConfig: monitor.DefaultMonitoringConfig(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("constraints (-want +got):\n%s", diff)
	}
}

// A String column whose counts overflowed gets no domain even if small.
func TestSuggestConstraints_NoDomainWhenIncomplete(t *testing.T) {
	p := monitor.NewProfiler(monitor.ProfilerOptions{MaxCategories: 2})
	for _, v := range []string{"a", "b", "c"} {
		p.Add(csvRow(v))
	}
	if sc := monitor.SuggestConstraints(p.Profile()).Features[0].StringConstraints; sc != nil {
		t.Errorf("string_constraints = %+v, want none", sc)
	}
}
