package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMomentsHandComputed(t *testing.T) {
	// The classic textbook set {2,4,4,4,5,5,7,9}: sum 40, mean 5, squared
	// deviations 9+1+1+1+0+0+4+16 = 32, population variance 32/8 = 4, so the
	// population standard deviation is 2.
	var m Moments
	for _, x := range []float64{2, 4, 4, 4, 5, math.NaN(), 5, 7, 9} {
		m.Add(x)
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"count", float64(m.Count()), 8},
		{"sum", m.Sum(), 40},
		{"mean", m.Mean(), 5},
		{"std", m.StdDevPop(), 2},
		{"min", m.Min(), 2},
		{"max", m.Max(), 9},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestMomentsEmptyAndSingle(t *testing.T) {
	var m Moments
	if m.Count() != 0 || m.Sum() != 0 {
		t.Fatalf("empty: count %d sum %v", m.Count(), m.Sum())
	}
	for name, v := range map[string]float64{"mean": m.Mean(), "std": m.StdDevPop(), "min": m.Min(), "max": m.Max()} {
		if !math.IsNaN(v) {
			t.Errorf("empty %s = %v, want NaN", name, v)
		}
	}
	m.Add(-3.5)
	if m.Mean() != -3.5 || m.StdDevPop() != 0 || m.Min() != -3.5 || m.Max() != -3.5 || m.Sum() != -3.5 {
		t.Fatalf("single value: mean %v std %v min %v max %v sum %v", m.Mean(), m.StdDevPop(), m.Min(), m.Max(), m.Sum())
	}
}

// offsetData returns 1e9 plus standard normal noise, the case where the
// textbook sum-of-squares formula loses every significant digit.
func offsetData(n int) []float64 {
	r := rand.New(rand.NewPCG(42, 42))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 1e9 + r.NormFloat64()
	}
	return xs
}

// twoPass computes mean and population standard deviation the slow, careful
// way. Subtracting 1e9 is exact for these values (Sterbenz), so the reference
// does not inherit the cancellation it is meant to expose.
func twoPass(xs []float64) (mean, std float64) {
	var s float64
	for _, x := range xs {
		s += x - 1e9
	}
	mu := s / float64(len(xs))
	var ss float64
	for _, x := range xs {
		d := (x - 1e9) - mu
		ss += d * d
	}
	return 1e9 + mu, math.Sqrt(ss / float64(len(xs)))
}

func TestMomentsStableWithLargeOffset(t *testing.T) {
	xs := offsetData(100_000)
	var m Moments
	for _, x := range xs {
		m.Add(x)
	}
	mean, std := twoPass(xs)
	if math.Abs(m.Mean()-mean) > 1e-6 {
		t.Errorf("mean = %.9f, two-pass %.9f", m.Mean(), mean)
	}
	if rel := math.Abs(m.StdDevPop()-std) / std; rel > 1e-6 {
		t.Errorf("std = %.12f, two-pass %.12f (relative error %g)", m.StdDevPop(), std, rel)
	}
	if rel := math.Abs(m.Sum()-mean*float64(len(xs))) / (mean * float64(len(xs))); rel > 1e-14 {
		t.Errorf("sum = %v, want %v", m.Sum(), mean*float64(len(xs)))
	}
}

func TestMomentsMergeEqualsSequential(t *testing.T) {
	xs := offsetData(100_000)
	var seq Moments
	for _, x := range xs {
		seq.Add(x)
	}
	// Split into unequal parts, including an empty one, and merge them.
	cuts := []int{0, 1, 17, 17, 40_000, 99_999, 100_000}
	var merged Moments
	for i := 0; i+1 < len(cuts); i++ {
		var part Moments
		for _, x := range xs[cuts[i]:cuts[i+1]] {
			part.Add(x)
		}
		merged.Merge(&part)
	}
	merged.Merge(nil)
	if merged.Count() != seq.Count() || merged.Min() != seq.Min() || merged.Max() != seq.Max() {
		t.Fatalf("count/min/max: merged %d %v %v, sequential %d %v %v",
			merged.Count(), merged.Min(), merged.Max(), seq.Count(), seq.Min(), seq.Max())
	}
	if math.Abs(merged.Mean()-seq.Mean()) > 1e-6 {
		t.Errorf("mean: merged %.9f, sequential %.9f", merged.Mean(), seq.Mean())
	}
	if rel := math.Abs(merged.StdDevPop()-seq.StdDevPop()) / seq.StdDevPop(); rel > 1e-7 {
		t.Errorf("std: merged %.12f, sequential %.12f", merged.StdDevPop(), seq.StdDevPop())
	}
	if rel := math.Abs(merged.Sum()-seq.Sum()) / seq.Sum(); rel > 1e-15 {
		t.Errorf("sum: merged %v, sequential %v", merged.Sum(), seq.Sum())
	}
}

func BenchmarkMomentsAdd(b *testing.B) {
	xs := uniformData(1<<16, 2)
	var m Moments
	i := 0
	for b.Loop() {
		m.Add(xs[i&(1<<16-1)])
		i++
	}
}
