// Package benchfmt holds the small numeric helpers the benchmark tools
// share when they summarise repetitions and print reports.
package benchfmt

import (
	"math"
	"slices"
	"strconv"
)

// Median returns the median of the finite values of xs, or NaN when there
// are none (a failed repetition reports NaN and is left out).
func Median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Float formats f with prec decimals, "n/a" for NaN.
func Float(f float64, prec int) string {
	if math.IsNaN(f) {
		return "n/a"
	}
	return strconv.FormatFloat(f, 'f', prec, 64)
}
