package stats

import "math"

// Bucket is one bar of a histogram: the weight of the values in
// [Lower, Upper), or in [Lower, Upper] for the last bucket.
type Bucket struct {
	Lower, Upper, Count float64
}

// EqualWidthBuckets splits [lo, hi] (the feature's min and max) into n
// buckets of equal width, as the "buckets" of statistics.json do (SageMaker
// always uses n=10), and estimates each bucket's count from the sketch's
// ranks. Buckets are closed on the left and open on the right, except the
// last, which is closed on both sides.
//
// The counts always add up to s.Count(): retained items below lo are counted
// in the first bucket and items above hi in the last, which matters only when
// lo and hi do not come from the same data as the sketch.
//
// When lo == hi every value is the same, so a single bucket [lo, hi]
// holding the whole count is returned whatever n is; n equal buckets of width
// zero would say nothing more. It returns nil when n < 1, when lo or hi is
// NaN or infinite, or when lo > hi.
func EqualWidthBuckets(s *KLL, lo, hi float64, n int) []Bucket {
	if n < 1 || !finite(lo) || !finite(hi) || lo > hi {
		return nil
	}
	var total float64
	if s != nil {
		total = float64(s.Count())
	}
	if lo == hi {
		return []Bucket{{Lower: lo, Upper: hi, Count: total}}
	}
	c := cdfOfSketch(s)
	out := make([]Bucket, n)
	lower := lo
	var below int64 // weight already assigned to earlier buckets
	for i := range n {
		upper := hi
		if i < n-1 {
			upper = lo + (hi-lo)*float64(i+1)/float64(n)
		}
		var upto int64
		if i == n-1 {
			upto = c.total
		} else {
			upto = c.rankLT(upper)
		}
		out[i] = Bucket{Lower: lower, Upper: upper, Count: float64(upto - below)}
		below = upto
		lower = upper
	}
	return out
}

// QuantileBins returns the n-1 inner edges that cut the sketch's distribution
// into n bins of about equal weight: the estimated quantiles at 1/n, 2/n, …,
// (n-1)/n. Repeated edges (heavy ties in the data) are dropped, so fewer bins
// may result. With BinCounts these give the bins that PSI and Jensen–Shannon
// compare on numeric data, taken from the baseline sketch. It returns nil
// when n < 1 or the sketch is empty, and an empty slice for n == 1.
func QuantileBins(s *KLL, n int) []float64 {
	if n < 1 || s == nil || s.Count() == 0 {
		return nil
	}
	c := cdfOfSketch(s)
	edges := make([]float64, 0, n-1)
	for i := 1; i < n; i++ {
		e := c.quantile(float64(i) / float64(n))
		if len(edges) > 0 && e <= edges[len(edges)-1] {
			continue
		}
		edges = append(edges, e)
	}
	return edges
}

// BinCounts returns the weight of the sketch in each of the len(edges)+1
// bins that the ascending edges define: (-Inf, e0], (e0, e1], …,
// (e_last, +Inf). Bins are closed on the right to match Rank, so a bin ending
// at a quantile edge from QuantileBins includes that quantile's item. The
// counts add up to s.Count(). It returns nil when the edges contain NaN or are
// not strictly ascending.
func BinCounts(s *KLL, edges []float64) []float64 {
	for i, e := range edges {
		if math.IsNaN(e) || (i > 0 && e <= edges[i-1]) {
			return nil
		}
	}
	c := cdfOfSketch(s)
	out := make([]float64, len(edges)+1)
	var prev int64
	for i, e := range edges {
		r := c.rankLE(e)
		out[i] = float64(r - prev)
		prev = r
	}
	out[len(edges)] = float64(c.total - prev)
	return out
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
