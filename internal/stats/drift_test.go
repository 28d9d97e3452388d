package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g ± %g", what, got, want, tol)
	}
}

func isNaN(t *testing.T, what string, got float64) {
	t.Helper()
	if !math.IsNaN(got) {
		t.Errorf("%s = %v, want NaN", what, got)
	}
}

func exactSketch(xs ...float64) *KLL {
	s := NewKLL() // below k=2048 items nothing is compacted
	for _, x := range xs {
		s.Update(x)
	}
	return s
}

func TestLInfinityNumericByHand(t *testing.T) {
	// CDFs of {1,2,3,4} and {3,4,5,6} at 1..6: .25/.0, .5/0, .75/.25,
	// 1/.5, 1/.75, 1/1; the largest gap is 0.5.
	near(t, "shifted sets", LInfinityNumeric(exactSketch(1, 2, 3, 4), exactSketch(3, 4, 5, 6)), 0.5, 0)
	near(t, "identical", LInfinityNumeric(exactSketch(1, 2, 3), exactSketch(3, 2, 1)), 0, 0)
	near(t, "disjoint", LInfinityNumeric(exactSketch(1, 2), exactSketch(8, 9)), 1, 0)

	// Weighted items: base holds 1 (weight 1) and 2 (weight 2), CDF 1/3 at 1
	// and 1 at 2; cur holds 2 and 3 (weight 1 each), CDF 0, 1/2, 1. Gaps:
	// 1/3, 1/2, 0.
	base, err := KLLFromLevels(2048, 0.64, [][]float64{{1}, {2}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "weighted", LInfinityNumeric(base, exactSketch(2, 3)), 0.5, 1e-15)

	isNaN(t, "empty base", LInfinityNumeric(NewKLL(), exactSketch(1)))
	isNaN(t, "nil cur", LInfinityNumeric(exactSketch(1), nil))
}

func TestLInfinityNumericMatchesKSOnRawData(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a := make([]float64, 200_000)
	b := make([]float64, 150_000)
	for i := range a {
		a[i] = r.NormFloat64()
	}
	for i := range b {
		b[i] = r.NormFloat64()*1.1 + 0.1
	}
	d, _ := KSTest(a, b)
	near(t, "sketch L-inf vs exact KS", LInfinityNumeric(sketchOf(a), sketchOf(b)), d, 2*kllRankBound)
	// Small samples (no compaction) must agree exactly.
	dSmall, _ := KSTest(a[:500], b[:700])
	near(t, "uncompacted sketches", LInfinityNumeric(sketchOf(a[:500]), sketchOf(b[:700])), dSmall, 1e-15)
}

func TestLInfinityCategorical(t *testing.T) {
	// p_base = {A .5, B .5, C 0}, p_cur = {A .3, B .5, C .2}: largest gap .2.
	near(t, "new category", LInfinityCategorical(map[string]float64{"A": 50, "B": 50}, map[string]float64{"A": 30, "B": 50, "C": 20}), 0.2, 1e-15)
	// A category only in the baseline counts too: {A .25, B .75} vs {A 1}.
	near(t, "dropped category", LInfinityCategorical(map[string]float64{"A": 1, "B": 3}, map[string]float64{"A": 7}), 0.75, 1e-15)
	near(t, "same proportions", LInfinityCategorical(map[string]float64{"A": 1, "B": 3}, map[string]float64{"A": 10, "B": 30}), 0, 1e-15)
	isNaN(t, "empty", LInfinityCategorical(map[string]float64{}, map[string]float64{"A": 1}))
	isNaN(t, "negative", LInfinityCategorical(map[string]float64{"A": -1, "B": 2}, map[string]float64{"A": 1}))
}

func TestRobustLInfinity(t *testing.T) {
	// 1.8*sqrt(2000/1e6) = 1.8*0.0447214 = 0.0804984, so 0.2 becomes 0.1195016.
	near(t, "n=m=1000", RobustLInfinity(0.2, 1000, 1000), 0.2-1.8*math.Sqrt(0.002), 1e-15)
	near(t, "n=m=1000 by hand", RobustLInfinity(0.2, 1000, 1000), 0.1195016, 1e-7)
	// 1.8*sqrt(200/10000) = 0.2546 exceeds 0.2, so the result is clamped to 0.
	near(t, "n=m=100", RobustLInfinity(0.2, 100, 100), 0, 0)
	isNaN(t, "n=0", RobustLInfinity(0.2, 0, 100))
	isNaN(t, "NaN", RobustLInfinity(math.NaN(), 10, 100))
}

func TestQKSPublishedValues(t *testing.T) {
	// Kolmogorov distribution values as tabulated by Smirnov (1948) and used
	// in Massey (1951), "The Kolmogorov-Smirnov test for goodness of fit":
	// K(0.5)=0.0361, K(1.0)=0.7300, and the critical values 1.22, 1.36, 1.63
	// for α = 0.10, 0.05, 0.01. Numerical Recipes §14.3 quotes the same
	// function Q_KS = 1 - K.
	for _, tc := range []struct{ lambda, q, tol float64 }{
		{0.5, 1 - 0.0361, 1e-4},
		{1.0, 1 - 0.7300, 1e-4},
		{1.2238, 0.10, 2e-4},
		{1.3581, 0.05, 2e-4},
		{1.36, 0.049, 1e-3},
		{1.6276, 0.01, 1e-4},
		{1.63, 0.0098, 1e-4},
	} {
		near(t, "Q_KS", qKS(tc.lambda), tc.q, tc.tol)
	}
	// The two series meet at the switch point without a jump.
	near(t, "continuity at 1.18", qKS(1.18-1e-12), qKS(1.18), 1e-12)
	near(t, "Q_KS(0)", qKS(0), 1, 0)
	if q := qKS(10); q < 0 || q > 1e-80 {
		t.Errorf("Q_KS(10) = %v, want a tiny non-negative number", q)
	}
}

func TestKSPValue(t *testing.T) {
	// n=m=2e6 gives ne=1e6, sqrt(ne)=1000 and λ = (1000+0.12+0.00011)·d; with
	// d = 1.3581/1000.12011, λ is the 5% critical value.
	near(t, "5% point", KSPValue(1.3581/1000.12011, 2_000_000, 2_000_000), 0.05, 2e-4)
	near(t, "d=0", KSPValue(0, 10, 10), 1, 0)
	isNaN(t, "d>1", KSPValue(1.5, 10, 10))
	isNaN(t, "m=0", KSPValue(0.5, 10, 0))
}

func TestKSTest(t *testing.T) {
	// Disjoint samples of five: d=1. ne=2.5, λ = sqrt(2.5)+0.12+0.11/sqrt(2.5)
	// = 1.770709, and Q_KS(λ) = 2(e^{-2λ²} - e^{-8λ²} + …) = 0.0037814.
	d, p := KSTest([]float64{1, 2, 3, 4, 5}, []float64{10, 9, 8, 7, 6})
	near(t, "disjoint d", d, 1, 0)
	near(t, "disjoint p", p, 0.0037814, 1e-6)

	d, p = KSTest([]float64{3, 1, 2}, []float64{1, 2, 3, math.NaN()})
	near(t, "identical d", d, 0, 0)
	near(t, "identical p", p, 1, 0)

	// Ties: F_a(1)=2/3, F_b(1)=1/3, both 1 at 2, so d = 1/3.
	d, _ = KSTest([]float64{1, 1, 2}, []float64{1, 2, 2})
	near(t, "ties", d, 1.0/3, 1e-15)

	// {0.1,0.2,0.3,0.4} against {0.25,0.35,0.45,0.55}: after 0.2 F_a=.5,
	// F_b=0, and after 0.3 F_a=.75, F_b=.25, so d = 0.5.
	d, _ = KSTest([]float64{0.1, 0.2, 0.3, 0.4}, []float64{0.25, 0.35, 0.45, 0.55})
	near(t, "interleaved", d, 0.5, 1e-15)

	d, p = KSTest(nil, []float64{1})
	isNaN(t, "empty d", d)
	isNaN(t, "empty p", p)
}

func TestChiSquareGoodnessOfFit(t *testing.T) {
	// SciPy's scipy.stats.chisquare documentation: chisquare([16, 18, 16, 14,
	// 12, 12]) gives statistic 2.0 and p-value 0.84914503608460956 (uniform
	// expectation, df 5). By hand: e = 88/6, Σ(o-e)² = 29.333, /e = 2.
	stat, p, df := ChiSquareGoodnessOfFit([]float64{16, 18, 16, 14, 12, 12}, []float64{1, 1, 1, 1, 1, 1})
	near(t, "scipy stat", stat, 2, 1e-12)
	near(t, "scipy p", p, 0.84914503608460956, 1e-12)
	if df != 5 {
		t.Errorf("df = %d, want 5", df)
	}

	// 60/40 against a fair split: stat = 2·10²/50 = 4 with df 1, and
	// P(χ²₁ > 4) = P(|Z| > 2) = 0.0455 from the standard normal table.
	stat, p, _ = ChiSquareGoodnessOfFit([]float64{60, 40}, []float64{0.5, 0.5})
	near(t, "60/40 stat", stat, 4, 1e-12)
	near(t, "60/40 p", p, 0.0455, 1e-4)

	// Chi-square table critical values at α = 0.05: 3.841 for df 1 and 11.07
	// for df 5. With e = 100 per cell and deviations ±a the statistic is
	// 2a²/100, so a = sqrt(50·stat) gives the wanted statistic.
	a := math.Sqrt(50 * 3.841)
	_, p, _ = ChiSquareGoodnessOfFit([]float64{100 + a, 100 - a}, []float64{1, 1})
	near(t, "3.841 df 1", p, 0.05, 1e-3)
	a = math.Sqrt(50 * 11.07)
	_, p, df = ChiSquareGoodnessOfFit([]float64{100 + a, 100 - a, 100, 100, 100, 100}, []float64{1, 1, 1, 1, 1, 1})
	near(t, "11.07 df 5", p, 0.05, 1e-3)
	if df != 5 {
		t.Errorf("df = %d, want 5", df)
	}

	// A positive count where nothing was expected is infinitely unlikely.
	stat, p, df = ChiSquareGoodnessOfFit([]float64{5, 5, 1}, []float64{1, 1, 0})
	if !math.IsInf(stat, 1) || p != 0 || df != 2 {
		t.Errorf("impossible cell: %v %v %d", stat, p, df)
	}
	// A cell empty on both sides is dropped: df 1, same as the two-cell test.
	_, p2, df := ChiSquareGoodnessOfFit([]float64{60, 40, 0}, []float64{1, 1, 0})
	near(t, "dropped empty cell", p2, 0.0455, 1e-4)
	if df != 1 {
		t.Errorf("df = %d, want 1", df)
	}
	for name, in := range map[string][2][]float64{
		"length":   {{1, 2}, {1}},
		"one cell": {{1}, {1}},
		"negative": {{1, -2}, {1, 1}},
		"zero sum": {{0, 0}, {1, 1}},
		"NaN":      {{1, math.NaN()}, {1, 1}},
	} {
		stat, p, df := ChiSquareGoodnessOfFit(in[0], in[1])
		if !math.IsNaN(stat) || !math.IsNaN(p) || df != 0 {
			t.Errorf("%s: got %v %v %d, want NaN NaN 0", name, stat, p, df)
		}
	}
}

func TestChiSquareCategorical(t *testing.T) {
	// No merging needed: expected 50, 30, 20 (all >= 5). Z is not in the
	// baseline and is left out. stat = 10²/50 + 10²/30 + 0 = 5.3333, df 2,
	// and for df 2 the survival function is exp(-x/2): p = 0.069483.
	stat, p, df := ChiSquareCategorical(
		map[string]float64{"A": 50, "B": 30, "C": 20},
		map[string]float64{"A": 40, "B": 40, "C": 20, "Z": 7})
	near(t, "stat", stat, 2+10.0/3, 1e-12)
	near(t, "p", p, math.Exp(-(2+10.0/3)/2), 1e-12)
	if df != 2 {
		t.Errorf("df = %d, want 2", df)
	}

	// Merging: baseline proportions .90/.05/.03/.02 scaled to 100 give
	// expected 90, 5, 3, 2. With four cells none may be below 5 (20% of 4
	// rounds down to 0), so D (2) merges into C (3): cells 90, 5, 5 with
	// observed 80, 10, 10. stat = 100/90 + 25/5 + 25/5 = 11.1111, df 2,
	// p = exp(-11.1111/2) = 0.0038659.
	stat, p, df = ChiSquareCategorical(
		map[string]float64{"A": 900, "B": 50, "C": 30, "D": 20},
		map[string]float64{"A": 80, "B": 10, "C": 6, "D": 4})
	near(t, "merged stat", stat, 100.0/90+10, 1e-9)
	near(t, "merged p", p, math.Exp(-(100.0/90+10)/2), 1e-12)
	if df != 2 {
		t.Errorf("merged df = %d, want 2", df)
	}

	// Four cells allow none below 5 (20% of 4 rounds down to 0): expected
	// 40, 30, 26, 4 merges D into C, giving 40, 30, 30 against observed 40,
	// 30, 30: stat 0, p 1, df 2. Unmerged it would be 36/26 + 36/4 with df 3.
	stat, p, df = ChiSquareCategorical(
		map[string]float64{"A": 40, "B": 30, "C": 26, "D": 4},
		map[string]float64{"A": 40, "B": 30, "C": 20, "D": 10})
	if stat != 0 || p != 1 || df != 2 {
		t.Errorf("four cells, one small: %v %v %d, want 0 1 2", stat, p, df)
	}
	// Five cells allow one below 5, so nothing merges: stat 4²/16 + 4²/4 = 5
	// with df 4, and for df 4 the survival function is e^{-x/2}(1 + x/2):
	// p = e^{-2.5}·3.5 = 0.2872975.
	stat, p, df = ChiSquareCategorical(
		map[string]float64{"A": 40, "B": 20, "C": 20, "D": 16, "E": 4},
		map[string]float64{"A": 40, "B": 20, "C": 20, "D": 12, "E": 8})
	near(t, "five cells stat", stat, 5, 1e-12)
	near(t, "five cells p", p, math.Exp(-2.5)*3.5, 1e-12)
	if df != 4 {
		t.Errorf("five cells df = %d, want 4", df)
	}

	// Two categories need expected counts of at least 10 each (Cochran):
	// 95/5 fails, merges into one category, and the test cannot run.
	stat, p, df = ChiSquareCategorical(map[string]float64{"A": 95, "B": 5}, map[string]float64{"A": 90, "B": 10})
	if !math.IsNaN(stat) || !math.IsNaN(p) || df != 0 {
		t.Errorf("too few categories: %v %v %d, want NaN NaN 0", stat, p, df)
	}
	// Two healthy categories: 60/40 against 50/50 is the df-1 example above.
	_, p, df = ChiSquareCategorical(map[string]float64{"A": 5, "B": 5}, map[string]float64{"A": 60, "B": 40})
	near(t, "two categories", p, 0.0455, 1e-4)
	if df != 1 {
		t.Errorf("df = %d, want 1", df)
	}
	// Nothing current falls in a baseline category.
	_, p, _ = ChiSquareCategorical(map[string]float64{"A": 5, "B": 5}, map[string]float64{"Z": 60})
	isNaN(t, "no overlap", p)
	_, p, _ = ChiSquareCategorical(map[string]float64{}, map[string]float64{"A": 1})
	isNaN(t, "empty baseline", p)
}

func TestPSI(t *testing.T) {
	// Worked by hand, expected .25 each, actual .1 .2 .3 .4:
	//   (.1-.25)·ln(.1/.25) = 0.1374435
	//   (.2-.25)·ln(.2/.25) = 0.0111572
	//   (.3-.25)·ln(.3/.25) = 0.0091161
	//   (.4-.25)·ln(.4/.25) = 0.0705006
	// PSI = 0.2282174.
	near(t, "proportions", PSI([]float64{.25, .25, .25, .25}, []float64{.1, .2, .3, .4}), 0.2282174, 1e-7)
	near(t, "counts", PSI([]float64{25, 25, 25, 25}, []float64{10, 20, 30, 40}), 0.2282174, 1e-7)
	near(t, "identical", PSI([]float64{1, 2, 3}, []float64{2, 4, 6}), 0, 1e-15)
	// An empty expected bin takes 1e-4: (.25-.5)·ln(.25/.5) = 0.1732868 and
	// (.25-1e-4)·ln(.25/1e-4) = 0.2499·7.8240460 = 1.9552291; total 2.1285159.
	near(t, "epsilon", PSI([]float64{.5, .5, 0}, []float64{.5, .25, .25}), 2.1285159, 1e-7)
	isNaN(t, "length", PSI([]float64{1}, []float64{1, 2}))
	isNaN(t, "empty", PSI(nil, nil))
	isNaN(t, "zero total", PSI([]float64{0, 0}, []float64{1, 2}))
}

func TestJensenShannonDistance(t *testing.T) {
	near(t, "identical", JensenShannonDistance([]float64{1, 2, 3}, []float64{10, 20, 30}), 0, 1e-8)
	near(t, "disjoint", JensenShannonDistance([]float64{1, 0, 0}, []float64{0, 1, 0}), 1, 1e-15)
	// SciPy's scipy.spatial.distance.jensenshannon documentation gives
	// 0.46450140402245893 for [1, 0] against [0.5, 0.5] with the natural
	// logarithm. In base 2 that is 0.46450140402245893/sqrt(ln 2) = 0.5579230;
	// by hand, m = [.75, .25], KL(p‖m) = log2(4/3) = 0.4150375,
	// KL(q‖m) = .5·log2(2/3) + .5·log2(2) = 0.2075187, and
	// sqrt((0.4150375+0.2075187)/2) = 0.5579230.
	near(t, "scipy example", JensenShannonDistance([]float64{1, 0}, []float64{0.5, 0.5}), 0.46450140402245893/math.Sqrt(math.Ln2), 1e-12)
	isNaN(t, "length", JensenShannonDistance([]float64{1}, []float64{1, 2}))
	isNaN(t, "negative", JensenShannonDistance([]float64{1, -1}, []float64{1, 2}))
}

func TestWassersteinNormalized(t *testing.T) {
	// Two point masses 3 apart: the CDFs differ by 1 on [0, 3), area 3.
	near(t, "point masses", WassersteinNormalized(exactSketch(0, 0), exactSketch(3), 1.5), 2, 1e-15)
	// A constant baseline divides by the 0.001 floor.
	near(t, "zero std", WassersteinNormalized(exactSketch(0), exactSketch(3), 0), 3000, 1e-9)
	near(t, "NaN std", WassersteinNormalized(exactSketch(0), exactSketch(3), math.NaN()), 3000, 1e-9)
	// Shifting every value by 5 moves the whole distribution by 5.
	base, cur := NewKLL(), NewKLL()
	for i := range 1000 {
		base.Update(float64(i))
		cur.Update(float64(i) + 5)
	}
	near(t, "shift", WassersteinNormalized(base, cur, 1), 5, 1e-9)
	// {0, 1} against {0, 3}: the CDFs differ by 1/2 on [1, 3), area 1.
	near(t, "partial", WassersteinNormalized(exactSketch(0, 1), exactSketch(0, 3), 1), 1, 1e-15)

	// Compacted sketches of a uniform distribution and its shift by 50.
	xs := uniformData(300_000, 12)
	ys := make([]float64, len(xs))
	for i, x := range xs {
		ys[i] = x + 50
	}
	std := 1000 / math.Sqrt(12) // uniform on [0, 1000)
	near(t, "large shift", WassersteinNormalized(sketchOf(xs), sketchOf(ys), std), 50/std, 2.5/std)

	isNaN(t, "empty", WassersteinNormalized(NewKLL(), exactSketch(1), 1))
	isNaN(t, "infinite support", WassersteinNormalized(exactSketch(0, math.Inf(1)), exactSketch(0, 1), 1))
}

func BenchmarkLInfinity(b *testing.B) {
	base := sketchOf(uniformData(1_000_000, 1))
	cur := sketchOf(skewedData(1_000_000, 2))
	b.ReportAllocs()
	for b.Loop() {
		LInfinityNumeric(base, cur)
	}
}
