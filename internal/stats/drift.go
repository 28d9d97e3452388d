package stats

import (
	"cmp"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultCAlpha is the critical-value coefficient Deequ subtracts in its
// robust L-infinity distance. c(α) = sqrt(-ln(α/2)/2) gives 1.8 for
// α ≈ 0.003.
const DefaultCAlpha = 1.8

// PSIEpsilon replaces an empty bin's proportion in PSI so that the logarithm
// stays finite. 1e-4 is the value common PSI implementations use.
const PSIEpsilon = 1e-4

// MinWassersteinNorm is the smallest baseline standard deviation
// WassersteinNormalized divides by, the same floor Evidently applies so that
// a constant baseline does not cause a division by zero.
const MinWassersteinNorm = 0.001

// LInfinityNumeric returns the largest absolute difference between the two
// sketches' CDFs over every value either sketch retains. This is Deequ's
// numeric distance and the two-sample Kolmogorov–Smirnov statistic computed
// from sketches. It is in [0, 1], and NaN when either sketch is nil or empty.
func LInfinityNumeric(base, cur *KLL) float64 {
	if base == nil || cur == nil || base.Count() == 0 || cur.Count() == 0 {
		return math.NaN()
	}
	return linf(cdfOfSketch(base), cdfOfSketch(cur))
}

func linf(a, b stepCDF) float64 {
	d := 0.0
	walkUnion(a, b, func(_, fa, fb float64) {
		d = max(d, math.Abs(fa-fb))
	})
	return d
}

// LInfinityCategorical returns the largest absolute difference between the
// two frequency distributions over the union of categories, where a
// category's probability is its count divided by the map's total and a
// missing category has probability 0. It is in [0, 1], and NaN when either
// total is not positive or a count is negative or not finite.
func LInfinityCategorical(base, cur map[string]float64) float64 {
	nb, okb := mapTotal(base)
	nc, okc := mapTotal(cur)
	if !okb || !okc {
		return math.NaN()
	}
	d := 0.0
	for k, v := range base {
		d = max(d, math.Abs(v/nb-cur[k]/nc))
	}
	for k, v := range cur {
		if _, seen := base[k]; !seen {
			d = max(d, v/nc)
		}
	}
	return d
}

// mapTotal sums the counts and reports whether they are usable: all finite
// and non-negative with a positive total.
func mapTotal(m map[string]float64) (float64, bool) {
	t := 0.0
	for _, v := range m {
		if !finite(v) || v < 0 {
			return 0, false
		}
		t += v
	}
	return t, t > 0
}

// RobustLInfinity subtracts the Kolmogorov–Smirnov critical value for
// samples of n and m values from an L-infinity distance, as Deequ does with
// its default c(α) = 1.8 (α ≈ 0.003):
//
//	max(0, linf - 1.8*sqrt((n+m)/(n*m)))
//
// Small samples therefore need a larger difference to report drift. It
// returns NaN when linf is NaN or n or m is not positive.
func RobustLInfinity(linf float64, n, m int64) float64 {
	if math.IsNaN(linf) || n <= 0 || m <= 0 {
		return math.NaN()
	}
	fn, fm := float64(n), float64(m)
	return max(0, linf-DefaultCAlpha*math.Sqrt((fn+fm)/(fn*fm)))
}

// KSPValue returns the asymptotic p-value of a two-sample Kolmogorov–Smirnov
// statistic d for samples of n and m values, using the effective size
// ne = n*m/(n+m) and Stephens' correction from Numerical Recipes:
// Q_KS((sqrt(ne) + 0.12 + 0.11/sqrt(ne)) * d). It returns NaN when d is NaN
// or outside [0, 1], or when n or m is not positive.
func KSPValue(d float64, n, m int64) float64 {
	if math.IsNaN(d) || d < 0 || d > 1 || n <= 0 || m <= 0 {
		return math.NaN()
	}
	ne := float64(n) * float64(m) / (float64(n) + float64(m))
	sq := math.Sqrt(ne)
	return qKS((sq + 0.12 + 0.11/sq) * d)
}

// qKS is the Kolmogorov distribution's survival function,
//
//	Q_KS(λ) = 2 Σ_{j≥1} (-1)^(j-1) exp(-2 j² λ²).
//
// That alternating series converges slowly for small λ, so below λ = 1.18 the
// equivalent form 1 - sqrt(2π)/λ Σ_{j≥1} exp(-(2j-1)² π² / (8 λ²)) is summed
// instead; both need only a few terms in their own range.
func qKS(lambda float64) float64 {
	switch {
	case math.IsNaN(lambda):
		return math.NaN()
	case lambda <= 0:
		return 1
	case lambda < 1.18:
		f := -math.Pi * math.Pi / (8 * lambda * lambda)
		sum := 0.0
		for j := 1; j <= 100; j++ {
			k := float64(2*j - 1)
			t := math.Exp(f * k * k)
			sum += t
			if t <= 1e-17*sum {
				break
			}
		}
		return clamp01(1 - math.Sqrt(2*math.Pi)/lambda*sum)
	default:
		f := -2 * lambda * lambda
		sum, sign := 0.0, 1.0
		for j := 1; j <= 100; j++ {
			fj := float64(j)
			t := math.Exp(f * fj * fj)
			sum += sign * t
			if t <= 1e-17*math.Abs(sum) {
				break
			}
			sign = -sign
		}
		return clamp01(2 * sum)
	}
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }

// KSTest runs the exact two-sample Kolmogorov–Smirnov statistic on raw
// samples (sorting copies; NaN values are dropped) and returns it with its
// asymptotic p-value from KSPValue. Both are NaN when either sample is empty.
func KSTest(a, b []float64) (d, p float64) {
	sa, sb := sortedFinite(a), sortedFinite(b)
	if len(sa) == 0 || len(sb) == 0 {
		return math.NaN(), math.NaN()
	}
	d = linf(cdfOfSorted(sa, nil), cdfOfSorted(sb, nil))
	return d, KSPValue(d, int64(len(sa)), int64(len(sb)))
}

func sortedFinite(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// ChiSquareGoodnessOfFit tests observed counts against expected proportions
// (any non-negative weights; they are normalised and scaled to the observed
// total). It returns Pearson's statistic Σ (o-e)²/e, its p-value from the
// chi-square distribution with df = cells-1, and df.
//
// Cells whose expected and observed counts are both zero are left out. A
// cell with zero expected but a positive observed count makes the statistic
// +Inf and the p-value 0. The result is (NaN, NaN, 0) when the slices differ
// in length, a value is negative or not finite, a total is zero, or fewer
// than two cells remain.
func ChiSquareGoodnessOfFit(observed, expectedProportions []float64) (stat, p float64, df int) {
	if len(observed) != len(expectedProportions) {
		return math.NaN(), math.NaN(), 0
	}
	to, okO := sliceTotal(observed)
	te, okE := sliceTotal(expectedProportions)
	if !okO || !okE {
		return math.NaN(), math.NaN(), 0
	}
	exp := make([]float64, len(expectedProportions))
	for i, e := range expectedProportions {
		exp[i] = e / te * to
	}
	return pearson(observed, exp)
}

// pearson computes the chi-square statistic, p-value and degrees of freedom
// of observed against expected counts with equal totals.
func pearson(obs, exp []float64) (stat, p float64, df int) {
	cells := 0
	for i, e := range exp {
		o := obs[i]
		switch {
		case e == 0 && o == 0:
			continue
		case e == 0:
			stat = math.Inf(1)
		default:
			stat += (o - e) * (o - e) / e
		}
		cells++
	}
	if cells < 2 {
		return math.NaN(), math.NaN(), 0
	}
	df = cells - 1
	if math.IsInf(stat, 1) {
		return stat, 0, df
	}
	return stat, distuv.ChiSquared{K: float64(df)}.Survival(stat), df
}

// sliceTotal sums the values and reports whether they are usable: at least
// one, all finite and non-negative, with a positive total.
func sliceTotal(xs []float64) (float64, bool) {
	t := 0.0
	for _, x := range xs {
		if !finite(x) || x < 0 {
			return 0, false
		}
		t += x
	}
	return t, t > 0
}

// ChiSquareCategorical is Deequ's chi-square test of a current categorical
// distribution against a baseline, both given as counts per category:
//
//  1. The current total is taken over the baseline's categories only, and
//     each baseline category's expected count is its baseline proportion
//     times that total. Current values that the baseline never saw are left
//     out entirely, as Deequ does; unseen values are the job of the
//     separate domain (categorical_values_check) constraint.
//  2. While the expected counts break the usual rule of thumb, the category
//     with the smallest expected count is merged into the next smallest
//     (ties broken by name). With more than two categories at most 20% of the
//     expected counts (rounded down) may be below 5 (Yates, Moore and McCabe);
//     with two, both must be at least 10 (Cochran).
//  3. Pearson's goodness-of-fit test runs on what remains.
//
// It returns the statistic, p-value and degrees of freedom, or (NaN, NaN, 0)
// when fewer than two categories remain or the input is unusable (a negative
// or non-finite count, an empty baseline).
func ChiSquareCategorical(base, cur map[string]float64) (stat, p float64, df int) {
	nb, ok := mapTotal(base)
	if !ok {
		return math.NaN(), math.NaN(), 0
	}
	type cell struct {
		name     string
		exp, obs float64
	}
	cells := make([]cell, 0, len(base))
	curTotal := 0.0
	for k := range base {
		o := cur[k]
		if !finite(o) || o < 0 {
			return math.NaN(), math.NaN(), 0
		}
		curTotal += o
		cells = append(cells, cell{name: k, obs: o})
	}
	for i := range cells {
		cells[i].exp = base[cells[i].name] / nb * curTotal
	}
	byExpected := func(a, b cell) int {
		if c := cmp.Compare(a.exp, b.exp); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	}
	for len(cells) >= 2 {
		threshold, allowed := 10.0, 0
		if len(cells) > 2 {
			threshold, allowed = 5, int(0.2*float64(len(cells)))
		}
		below := 0
		for _, c := range cells {
			if c.exp < threshold {
				below++
			}
		}
		if below <= allowed {
			break
		}
		slices.SortFunc(cells, byExpected)
		cells[1].exp += cells[0].exp
		cells[1].obs += cells[0].obs
		cells = cells[1:]
	}
	if len(cells) < 2 {
		return math.NaN(), math.NaN(), 0
	}
	obs := make([]float64, len(cells))
	exp := make([]float64, len(cells))
	for i, c := range cells {
		obs[i], exp[i] = c.obs, c.exp
	}
	return pearson(obs, exp)
}

// PSI returns the population stability index Σ (a-e)·ln(a/e) over bins that
// expected and actual share, where a and e are each slice's proportions. The
// inputs may be counts or proportions; each is normalised to sum to 1. An
// empty bin's proportion is replaced by PSIEpsilon (1e-4) before the sum,
// without renormalising, so the result stays finite. It returns NaN when the
// slices differ in length or are empty, or a value is negative or not finite,
// or a total is zero.
func PSI(expected, actual []float64) float64 {
	if len(expected) != len(actual) {
		return math.NaN()
	}
	te, okE := sliceTotal(expected)
	ta, okA := sliceTotal(actual)
	if !okE || !okA {
		return math.NaN()
	}
	psi := 0.0
	for i := range expected {
		e, a := expected[i]/te, actual[i]/ta
		if e == 0 {
			e = PSIEpsilon
		}
		if a == 0 {
			a = PSIEpsilon
		}
		psi += (a - e) * math.Log(a/e)
	}
	return psi
}

// JensenShannonDistance returns the square root of the Jensen–Shannon
// divergence between p and q computed with base-2 logarithms, so the result
// lies in [0, 1]: 0 for identical distributions and 1 for distributions with
// disjoint support. (SciPy's jensenshannon uses the natural logarithm by
// default; its value is this one times sqrt(ln 2).) The inputs may be counts
// or proportions; each is normalised. It returns NaN when the slices differ
// in length or are empty, or a value is negative or not finite, or a total
// is zero.
func JensenShannonDistance(p, q []float64) float64 {
	if len(p) != len(q) {
		return math.NaN()
	}
	tp, okP := sliceTotal(p)
	tq, okQ := sliceTotal(q)
	if !okP || !okQ {
		return math.NaN()
	}
	js := 0.0
	for i := range p {
		a, b := p[i]/tp, q[i]/tq
		m := (a + b) / 2
		if a > 0 {
			js += a / 2 * math.Log2(a/m)
		}
		if b > 0 {
			js += b / 2 * math.Log2(b/m)
		}
	}
	return math.Sqrt(clamp01(js))
}

// WassersteinNormalized returns the first Wasserstein (earth mover's)
// distance between the distributions two sketches describe, the integral of
// |F_base(x) - F_cur(x)| over x, divided by the baseline's standard
// deviation. This is Evidently's "normed Wasserstein distance". A baseline
// standard deviation below MinWassersteinNorm (0.001), including zero and NaN,
// is replaced by that floor, as Evidently does, so a constant baseline gives a
// large finite distance rather than a division by zero. It returns NaN when
// either sketch is nil or empty, or when retained infinite values make the
// integral infinite.
func WassersteinNormalized(base, cur *KLL, baseStdDev float64) float64 {
	if base == nil || cur == nil || base.Count() == 0 || cur.Count() == 0 {
		return math.NaN()
	}
	w := wasserstein(cdfOfSketch(base), cdfOfSketch(cur))
	if !finite(w) {
		return math.NaN()
	}
	if !(baseStdDev >= MinWassersteinNorm) {
		baseStdDev = MinWassersteinNorm
	}
	return w / baseStdDev
}

// wasserstein integrates |F_a - F_b| between consecutive union values, where
// both step functions are constant.
func wasserstein(a, b stepCDF) float64 {
	var sum, prevX, prevDiff float64
	first := true
	walkUnion(a, b, func(x, fa, fb float64) {
		if !first && prevDiff != 0 {
			sum += prevDiff * (x - prevX)
		}
		first = false
		prevX, prevDiff = x, math.Abs(fa-fb)
	})
	return sum
}
