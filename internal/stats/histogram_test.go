package stats

import (
	"math"
	"slices"
	"testing"
)

func sumOf(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

func TestEqualWidthBucketsExact(t *testing.T) {
	// 0..99 split into ten buckets of width 9.9: [0, 9.9) holds 0..9,
	// [9.9, 19.8) holds 10..19, and so on; the last, [89.1, 99], holds 90..99.
	s := NewKLL()
	for i := range 100 {
		s.Update(float64(i))
	}
	got := EqualWidthBuckets(s, 0, 99, 10)
	if len(got) != 10 {
		t.Fatalf("got %d buckets, want 10", len(got))
	}
	for i, b := range got {
		if b.Count != 10 {
			t.Errorf("bucket %d %+v: count %v, want 10", i, b, b.Count)
		}
		if math.Abs(b.Lower-9.9*float64(i)) > 1e-9 || math.Abs(b.Upper-9.9*float64(i+1)) > 1e-9 {
			t.Errorf("bucket %d bounds [%v, %v], want [%v, %v]", i, b.Lower, b.Upper, 9.9*float64(i), 9.9*float64(i+1))
		}
	}
	if got[9].Upper != 99 {
		t.Errorf("last upper bound %v, want exactly the max 99", got[9].Upper)
	}
}

func TestEqualWidthBucketsSageMakerBounds(t *testing.T) {
	// SageMaker's observed output for min 0 and max 350.8 starts with the
	// bucket 0.0–35.08 (sagemaker-formats.md 4.2).
	s := NewKLL()
	s.Update(0)
	s.Update(350.8)
	got := EqualWidthBuckets(s, 0, 350.8, 10)
	if got[0].Lower != 0 || math.Abs(got[0].Upper-35.08) > 1e-12 {
		t.Fatalf("first bucket %+v, want 0–35.08", got[0])
	}
	if got[0].Count != 1 || got[9].Count != 1 {
		t.Fatalf("the min and max must fall in the first and last buckets: %+v", got)
	}
}

func TestEqualWidthBucketsLargeSumsToCount(t *testing.T) {
	xs := uniformData(500_000, 4)
	s := sketchOf(xs)
	got := EqualWidthBuckets(s, 0, 1000, 10)
	counts := make([]float64, len(got))
	for i, b := range got {
		counts[i] = b.Count
		// Uniform on [0, 1000): each bucket holds a tenth, within the sketch error.
		if math.Abs(b.Count/float64(len(xs))-0.1) > 0.01 {
			t.Errorf("bucket %d holds %v of %d", i, b.Count, len(xs))
		}
	}
	if sumOf(counts) != float64(s.Count()) {
		t.Fatalf("counts sum to %v, want %d", sumOf(counts), s.Count())
	}
}

func TestEqualWidthBucketsDegenerate(t *testing.T) {
	s := NewKLL()
	for range 5 {
		s.Update(4)
	}
	got := EqualWidthBuckets(s, 4, 4, 10)
	if len(got) != 1 || got[0] != (Bucket{Lower: 4, Upper: 4, Count: 5}) {
		t.Fatalf("min == max: got %+v, want one bucket holding 5", got)
	}
	for _, tc := range []struct {
		name   string
		lo, hi float64
		n      int
	}{{"n zero", 0, 1, 0}, {"lo above hi", 2, 1, 10}, {"NaN", math.NaN(), 1, 10}, {"Inf", 0, math.Inf(1), 10}} {
		if got := EqualWidthBuckets(s, tc.lo, tc.hi, tc.n); got != nil {
			t.Errorf("%s: got %+v, want nil", tc.name, got)
		}
	}
	empty := EqualWidthBuckets(NewKLL(), 0, 1, 3)
	if len(empty) != 3 || empty[0].Count+empty[1].Count+empty[2].Count != 0 {
		t.Errorf("empty sketch: %+v", empty)
	}
}

func TestQuantileBinsAndBinCounts(t *testing.T) {
	s := NewKLL()
	for i := 1; i <= 10; i++ {
		s.Update(float64(i))
	}
	// With 1..10 the median item is 5 (the first whose cumulative weight
	// reaches 5), so the bins are (-Inf, 5] and (5, +Inf), five values each.
	edges := QuantileBins(s, 2)
	if !slices.Equal(edges, []float64{5}) {
		t.Fatalf("QuantileBins(2) = %v, want [5]", edges)
	}
	if got := BinCounts(s, edges); !slices.Equal(got, []float64{5, 5}) {
		t.Fatalf("BinCounts = %v, want [5 5]", got)
	}
	if got := BinCounts(s, []float64{0, 2.5, 10}); !slices.Equal(got, []float64{0, 2, 8, 0}) {
		t.Fatalf("BinCounts(0, 2.5, 10) = %v, want [0 2 8 0]", got)
	}
	if got := BinCounts(s, nil); !slices.Equal(got, []float64{10}) {
		t.Fatalf("BinCounts(nil) = %v, want [10]", got)
	}
	if got := QuantileBins(s, 1); got == nil || len(got) != 0 {
		t.Fatalf("QuantileBins(1) = %v, want empty", got)
	}
	for _, bad := range [][]float64{{2, 1}, {1, 1}, {math.NaN()}} {
		if got := BinCounts(s, bad); got != nil {
			t.Errorf("BinCounts(%v) = %v, want nil", bad, got)
		}
	}
	if QuantileBins(NewKLL(), 4) != nil || QuantileBins(s, 0) != nil {
		t.Error("QuantileBins of an empty sketch or n=0 must be nil")
	}
}

func TestQuantileBinsLarge(t *testing.T) {
	xs := skewedData(400_000, 8)
	s := sketchOf(xs)
	edges := QuantileBins(s, 10)
	if len(edges) != 9 {
		t.Fatalf("got %d edges, want 9", len(edges))
	}
	counts := BinCounts(s, edges)
	if sumOf(counts) != float64(s.Count()) {
		t.Fatalf("counts sum to %v, want %d", sumOf(counts), s.Count())
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	for i, e := range edges {
		// Each edge is the (i+1)/10 quantile of the data.
		if got := exactCDF(sorted, e); math.Abs(got-float64(i+1)/10) > kllRankBound {
			t.Errorf("edge %d = %v sits at rank %v", i, e, got)
		}
	}
}

func TestQuantileBinsTies(t *testing.T) {
	s := NewKLL()
	for range 100 {
		s.Update(7)
	}
	edges := QuantileBins(s, 4)
	if !slices.Equal(edges, []float64{7}) {
		t.Fatalf("edges = %v, want the repeated edge once", edges)
	}
	if got := BinCounts(s, edges); !slices.Equal(got, []float64{100, 0}) {
		t.Fatalf("BinCounts = %v", got)
	}
}
