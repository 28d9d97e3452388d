package stats

import (
	"math"
	"sort"
)

// stepCDF is an empirical distribution as a step function: the distinct
// values in ascending order and, for each, the total weight of the values
// less than or equal to it.
type stepCDF struct {
	vals  []float64
	cum   []int64
	total int64
}

// cdfOfSketch builds the step function of the items a sketch retains.
func cdfOfSketch(s *KLL) stepCDF {
	if s == nil {
		return stepCDF{}
	}
	vals, wts := s.Items()
	return cdfOfSorted(vals, wts)
}

// cdfOfSorted builds a step function from ascending values and their weights
// (nil weights mean weight 1 each). Equal values are combined.
func cdfOfSorted(vals []float64, wts []int64) stepCDF {
	out := stepCDF{vals: make([]float64, 0, len(vals)), cum: make([]int64, 0, len(vals))}
	for i, v := range vals {
		w := int64(1)
		if wts != nil {
			w = wts[i]
		}
		out.total += w
		if n := len(out.vals); n > 0 && out.vals[n-1] == v {
			out.cum[n-1] = out.total
			continue
		}
		out.vals = append(out.vals, v)
		out.cum = append(out.cum, out.total)
	}
	return out
}

// rankLE returns the weight of values <= x.
func (c stepCDF) rankLE(x float64) int64 {
	i := sort.Search(len(c.vals), func(i int) bool { return c.vals[i] > x })
	if i == 0 {
		return 0
	}
	return c.cum[i-1]
}

// quantile returns the smallest value whose cumulative weight reaches
// q*total.
func (c stepCDF) quantile(q float64) float64 {
	if c.total == 0 {
		return math.NaN()
	}
	target := q * float64(c.total)
	i := sort.Search(len(c.cum), func(i int) bool { return float64(c.cum[i]) >= target })
	return c.vals[min(i, len(c.vals)-1)]
}

// walkUnion visits every distinct value of the union of a and b in ascending
// order and calls fn with the value and the two CDFs at it (rank divided by
// total). It requires both totals to be positive.
func walkUnion(a, b stepCDF, fn func(x, fa, fb float64)) {
	i, j := 0, 0
	na, nb := float64(a.total), float64(b.total)
	for i < len(a.vals) || j < len(b.vals) {
		var x float64
		switch {
		case i == len(a.vals):
			x = b.vals[j]
		case j == len(b.vals):
			x = a.vals[i]
		default:
			x = min(a.vals[i], b.vals[j])
		}
		if i < len(a.vals) && a.vals[i] == x {
			i++
		}
		if j < len(b.vals) && b.vals[j] == x {
			j++
		}
		var fa, fb float64
		if i > 0 {
			fa = float64(a.cum[i-1]) / na
		}
		if j > 0 {
			fb = float64(b.cum[j-1]) / nb
		}
		fn(x, fa, fb)
	}
}

// rankLT returns the weight of values < x.
func (c stepCDF) rankLT(x float64) int64 {
	i := sort.Search(len(c.vals), func(i int) bool { return c.vals[i] >= x })
	if i == 0 {
		return 0
	}
	return c.cum[i-1]
}
