package stats

import (
	"encoding/binary"
	"math"
	"testing"
)

func key(i uint64) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	return b[:]
}

func within(t *testing.T, what string, got uint64, want, relTol float64) {
	t.Helper()
	if rel := math.Abs(float64(got)-want) / want; rel > relTol {
		t.Errorf("%s: estimate %d, want %v within %.1f%% (off by %.2f%%)", what, got, want, relTol*100, rel*100)
	}
}

func TestDistinctEstimate(t *testing.T) {
	d := NewDistinct()
	if d.Estimate() != 0 {
		t.Fatalf("empty estimate = %d", d.Estimate())
	}
	// Repeating values must not raise the count.
	for range 10 {
		for i := range uint64(1000) {
			d.AddBytes(key(i))
		}
	}
	within(t, "1000 values added 10 times", d.Estimate(), 1000, 0.02)

	big := NewDistinct()
	for i := range uint64(200_000) {
		big.AddBytes(key(i))
	}
	// Precision 14 has a standard error of about 0.8%; 3% is beyond 3 sigma.
	within(t, "200000 distinct values", big.Estimate(), 200_000, 0.03)
}

func TestDistinctMerge(t *testing.T) {
	a, b := NewDistinct(), NewDistinct()
	for i := range uint64(60_000) {
		a.AddBytes(key(i))
	}
	for i := uint64(40_000); i < 100_000; i++ {
		b.AddBytes(key(i))
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if err := a.Merge(nil); err != nil {
		t.Fatal(err)
	}
	// The sets overlap in [40000, 60000), so the union has 100000 values.
	within(t, "merged overlapping sets", a.Estimate(), 100_000, 0.03)
	within(t, "merge source unchanged", b.Estimate(), 60_000, 0.03)
}

func BenchmarkDistinctAdd(b *testing.B) {
	keys := make([][]byte, 1<<16)
	for i := range keys {
		keys[i] = key(uint64(i) * 0x9e3779b97f4a7c15)
	}
	d := NewDistinct()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.AddBytes(keys[i&(1<<16-1)])
		i++
	}
}
