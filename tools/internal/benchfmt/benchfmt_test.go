package benchfmt

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{math.NaN(), 5, math.Inf(1), 1}, 3},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := Median([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("Median of no finite value = %v, want NaN", got)
	}
	if got := Float(math.NaN(), 2); got != "n/a" {
		t.Errorf("Float(NaN) = %q", got)
	}
	if got := Float(1.234, 2); got != "1.23" {
		t.Errorf("Float(1.234, 2) = %q", got)
	}
}
