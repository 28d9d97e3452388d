package stats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// kllRankBound is the normalised rank error the tests accept for k=2048. The
// KLL analysis gives an error of order 1/k per level stack, far below 1%.
const kllRankBound = 0.01

func uniformData(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = r.Float64() * 1000
	}
	return xs
}

// skewedData draws from a log-normal distribution, which has a long right tail.
func skewedData(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 2))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = math.Exp(r.NormFloat64() * 2)
	}
	return xs
}

func sketchOf(xs []float64) *KLL {
	s := NewKLL()
	for _, x := range xs {
		s.Update(x)
	}
	return s
}

// exactCDF returns the fraction of sorted values <= x.
func exactCDF(sorted []float64, x float64) float64 {
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i] > x })
	return float64(i) / float64(len(sorted))
}

// checkRankError asserts that every quantile from 0.005 to 0.995 and the CDF
// at a spread of data points are within the bound of the exact values.
func checkRankError(t *testing.T, s *KLL, sorted []float64) {
	t.Helper()
	worst := 0.0
	for i := 1; i < 200; i++ {
		q := float64(i) / 200
		v := s.Quantile(q)
		if e := math.Abs(exactCDF(sorted, v) - q); e > worst {
			worst = e
		}
	}
	for i := 0; i < len(sorted); i += len(sorted) / 500 {
		x := sorted[i]
		if e := math.Abs(s.CDF(x) - exactCDF(sorted, x)); e > worst {
			worst = e
		}
	}
	if worst >= kllRankBound {
		t.Fatalf("worst normalised rank error %.5f, want < %v", worst, kllRankBound)
	}
	t.Logf("worst normalised rank error %.5f", worst)
}

func TestKLLRankErrorMillion(t *testing.T) {
	for name, gen := range map[string]func(int, uint64) []float64{"uniform": uniformData, "skewed": skewedData} {
		t.Run(name, func(t *testing.T) {
			xs := gen(1_000_000, 7)
			s := sketchOf(xs)
			if s.Count() != int64(len(xs)) {
				t.Fatalf("Count = %d, want %d", s.Count(), len(xs))
			}
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			checkRankError(t, s, sorted)
			if got := s.Quantile(0); got < sorted[0] || got > sorted[len(sorted)/100] {
				t.Errorf("Quantile(0) = %v, not near the minimum %v", got, sorted[0])
			}
			if got := s.Quantile(1); got > sorted[len(sorted)-1] || got < sorted[len(sorted)*99/100] {
				t.Errorf("Quantile(1) = %v, not near the maximum %v", got, sorted[len(sorted)-1])
			}
		})
	}
}

func TestKLLMergeHalves(t *testing.T) {
	xs := skewedData(1_000_000, 11)
	a, b := sketchOf(xs[:400_000]), sketchOf(xs[400_000:])
	whole := sketchOf(xs)
	a.Merge(b)
	if a.Count() != whole.Count() {
		t.Fatalf("merged Count = %d, want %d", a.Count(), whole.Count())
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	checkRankError(t, a, sorted)
	for i := 1; i < 100; i++ {
		q := float64(i) / 100
		if d := math.Abs(a.CDF(whole.Quantile(q)) - whole.CDF(whole.Quantile(q))); d >= 2*kllRankBound {
			t.Fatalf("merged and whole sketches differ by %.4f at q=%v", d, q)
		}
	}
	if lim := 3*DefaultKLLK + len(a.levels)*minLevelCapacity; a.retained() >= lim {
		t.Fatalf("merged sketch retains %d items, want < %d", a.retained(), lim)
	}
}

func TestKLLMergeManySmall(t *testing.T) {
	xs := uniformData(300_000, 3)
	merged := NewKLL()
	for i := 0; i < len(xs); i += 1000 {
		merged.Merge(sketchOf(xs[i : i+1000]))
	}
	if merged.Count() != int64(len(xs)) {
		t.Fatalf("Count = %d, want %d", merged.Count(), len(xs))
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	checkRankError(t, merged, sorted)
}

func TestKLLCountAndNaN(t *testing.T) {
	s := NewKLL()
	for i := range 10_000 {
		s.Update(float64(i))
		if i%3 == 0 {
			s.Update(math.NaN())
		}
	}
	if s.Count() != 10_000 {
		t.Fatalf("Count = %d, want 10000", s.Count())
	}
	var w int64
	for h, lv := range s.Levels() {
		w += int64(len(lv)) << h
	}
	if w != 10_000 {
		t.Fatalf("level weights sum to %d, want 10000", w)
	}
}

func TestKLLEmpty(t *testing.T) {
	s := NewKLL()
	if s.Count() != 0 || s.CDF(1) != 0 || s.Rank(1) != 0 {
		t.Fatalf("empty sketch: Count %d CDF %v Rank %d", s.Count(), s.CDF(1), s.Rank(1))
	}
	if !math.IsNaN(s.Quantile(0.5)) {
		t.Fatalf("empty Quantile = %v, want NaN", s.Quantile(0.5))
	}
	if k, c := s.Params(); k != 2048 || c != 0.64 {
		t.Fatalf("Params = %d, %v", k, c)
	}
}

func TestKLLSmallExact(t *testing.T) {
	// Below capacity nothing is compacted, so ranks are exact.
	s := NewKLLWith(64, 0.64)
	for _, x := range []float64{5, 1, 3, 3, 9} {
		s.Update(x)
	}
	for _, tc := range []struct {
		x    float64
		rank int64
	}{{0, 0}, {1, 1}, {2.9, 1}, {3, 3}, {5, 4}, {9, 5}, {100, 5}} {
		if got := s.Rank(tc.x); got != tc.rank {
			t.Errorf("Rank(%v) = %d, want %d", tc.x, got, tc.rank)
		}
	}
	if got := s.Quantile(0.5); got != 3 {
		t.Errorf("Quantile(0.5) = %v, want 3", got)
	}
	vals, wts := s.Items()
	if !slices.Equal(vals, []float64{1, 3, 3, 5, 9}) || !slices.Equal(wts, []int64{1, 1, 1, 1, 1}) {
		t.Errorf("Items = %v %v", vals, wts)
	}
}

func TestKLLMemoryBounded(t *testing.T) {
	s := NewKLL()
	r := rand.New(rand.NewPCG(5, 5))
	for i := range 2_000_000 {
		s.Update(r.NormFloat64())
		if i%50_000 == 0 || i == 1_999_999 {
			if lim := 3*s.k + len(s.levels)*minLevelCapacity; s.retained() >= lim {
				t.Fatalf("after %d updates the sketch retains %d items, want < %d", i+1, s.retained(), lim)
			}
		}
	}
	n := 0
	for _, lv := range s.Levels() {
		n += len(lv)
	}
	if n != s.retained() {
		t.Fatalf("Levels hold %d items, retained() says %d", n, s.retained())
	}
}

func TestKLLUpdateAllocFree(t *testing.T) {
	s := NewKLL()
	r := rand.New(rand.NewPCG(9, 9))
	for range 500_000 {
		s.Update(r.Float64())
	}
	allocs := testing.AllocsPerRun(20_000, func() { s.Update(r.Float64()) })
	if allocs != 0 {
		t.Fatalf("Update allocates %v times per call, want 0 amortised", allocs)
	}
}

func TestKLLLevelsRoundTrip(t *testing.T) {
	xs := skewedData(200_000, 21)
	s := sketchOf(xs)
	k, c := s.Params()
	loaded, err := KLLFromLevels(k, c, s.Levels())
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Count() != s.Count() {
		t.Fatalf("loaded Count = %d, want %d", loaded.Count(), s.Count())
	}
	for _, x := range xs[:2000] {
		if a, b := s.CDF(x), loaded.CDF(x); a != b {
			t.Fatalf("CDF(%v): original %v, loaded %v", x, a, b)
		}
	}
	// The loaded sketch keeps working.
	more := skewedData(100_000, 22)
	for _, x := range more {
		loaded.Update(x)
	}
	loaded.Merge(sketchOf(more))
	all := append(append(slices.Clone(xs), more...), more...)
	slices.Sort(all)
	if loaded.Count() != int64(len(all)) {
		t.Fatalf("Count after updates = %d, want %d", loaded.Count(), len(all))
	}
	checkRankError(t, loaded, all)
}

// TestKLLLoadDeequShapedLevels loads levels sized the way Deequ's
// QuantileNonSample sizes them (level h holds up to 2·(ceil(k·c^h/2)+1) items,
// so level 0 is the largest) and checks that the sketch keeps its weight and
// its size bound when it is updated and merged afterwards.
func TestKLLLoadDeequShapedLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var levels [][]float64
	var weight int64
	for h := range 18 {
		n := 2 * (int(math.Ceil(2048*math.Pow(0.64, float64(h))/2)) + 1)
		lv := make([]float64, n-1)
		for i := range lv {
			lv[i] = r.Float64()
		}
		levels = append(levels, lv)
		weight += int64(len(lv)) << h
	}
	s, err := KLLFromLevels(2048, 0.64, levels)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count() != weight {
		t.Fatalf("Count = %d, want %d", s.Count(), weight)
	}
	points := []float64{0.1, 0.25, 0.5, 0.75, 0.9}
	before := make([]float64, len(points))
	for i, x := range points {
		before[i] = s.CDF(x)
	}
	for range 100_000 {
		s.Update(r.Float64())
	}
	s.Merge(sketchOf(uniformData(50_000, 6)))
	if want := weight + 150_000; s.Count() != want {
		t.Fatalf("Count after updates = %d, want %d", s.Count(), want)
	}
	if lim := 3*s.k + len(s.levels)*minLevelCapacity; s.retained() >= lim {
		t.Fatalf("retains %d items, want < %d", s.retained(), lim)
	}
	// The new weight is 100000 values uniform on [0, 1) and 50000 uniform on
	// [0, 1000), so the CDF at x moves to a known mixture of the old one.
	for i, x := range points {
		w0 := float64(weight)
		want := (before[i]*w0 + 100_000*x + 50_000*x/1000) / (w0 + 150_000)
		near(t, "CDF after load and update", s.CDF(x), want, kllRankBound)
	}
}

// sagemakerSketch is shaped like the "sketch" object SageMaker Model Monitor
// writes into statistics.json (k is a JSON float there).
const sagemakerSketch = `{"parameters": {"c": 0.64, "k": 2048.0},
  "data": [[12.0, 99.5, 41.0], [7.5, 300.0]]}`

func TestKLLFromSageMakerFixture(t *testing.T) {
	var doc struct {
		Parameters struct{ C, K float64 }
		Data       [][]float64
	}
	if err := json.Unmarshal([]byte(sagemakerSketch), &doc); err != nil {
		t.Fatal(err)
	}
	s, err := KLLFromLevels(int(doc.Parameters.K), doc.Parameters.C, doc.Data)
	if err != nil {
		t.Fatal(err)
	}
	// Level 0 holds three items of weight 1, level 1 two items of weight 2.
	if s.Count() != 7 {
		t.Fatalf("Count = %d, want 7", s.Count())
	}
	for _, tc := range []struct {
		x   float64
		cdf float64
	}{
		{7, 0}, {7.5, 2.0 / 7}, {12, 3.0 / 7}, {50, 4.0 / 7}, {99.5, 5.0 / 7}, {300, 1},
	} {
		if got := s.CDF(tc.x); math.Abs(got-tc.cdf) > 1e-15 {
			t.Errorf("CDF(%v) = %v, want %v", tc.x, got, tc.cdf)
		}
	}
	vals, wts := s.Items()
	if !slices.Equal(vals, []float64{7.5, 12, 41, 99.5, 300}) || !slices.Equal(wts, []int64{2, 1, 1, 1, 2}) {
		t.Fatalf("Items = %v %v", vals, wts)
	}
	if got := s.Levels(); len(got) != 2 || !slices.Equal(got[1], []float64{7.5, 300}) {
		t.Fatalf("Levels = %v", got)
	}
	s.Update(1)
	if s.Count() != 8 || s.CDF(1) != 1.0/8 {
		t.Fatalf("after Update: Count %d, CDF(1) %v", s.Count(), s.CDF(1))
	}
}

func TestKLLFromLevelsErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		k      int
		c      float64
		levels [][]float64
		want   string
	}{
		{"zero k", 0, 0.64, nil, "k must be"},
		{"negative k", -5, 0.64, nil, "k must be"},
		{"zero c", 2048, 0, nil, "c must be"},
		{"c above one", 2048, 1.5, nil, "c must be"},
		{"NaN c", 2048, math.NaN(), nil, "c must be"},
		{"NaN item", 2048, 0.64, [][]float64{{1, math.NaN()}}, "level 0 item 1"},
		{"Inf item", 2048, 0.64, [][]float64{{1}, {math.Inf(1)}}, "level 1 item 0"},
		{"too many levels", 2048, 0.64, make([][]float64, 70), "levels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KLLFromLevels(tc.k, tc.c, tc.levels)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	s, err := KLLFromLevels(2048, 0.64, nil)
	if err != nil || s.Count() != 0 {
		t.Fatalf("empty levels: %v, Count %d", err, s.Count())
	}
	s.Update(3)
	if s.Count() != 1 {
		t.Fatalf("Count after Update = %d", s.Count())
	}
}

func BenchmarkKLLUpdate(b *testing.B) {
	xs := uniformData(1<<16, 1)
	s := NewKLL()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Update(xs[i&(1<<16-1)])
		i++
	}
}

// refCompactKLL is the straightforward compactor the optimised one must
// match item for item: every compaction fully sorts the items it halves.
type refCompactKLL struct {
	k      int
	c      float64
	levels [][]float64
	size   int
	rng    uint64
}

func (r *refCompactKLL) capTotal() int {
	t := 0
	for h := range r.levels {
		t += r.capAt(h)
	}
	return t
}

func (r *refCompactKLL) capAt(h int) int {
	depth := len(r.levels) - 1 - h
	return max(int(math.Ceil(float64(r.k)*math.Pow(r.c, float64(depth)))), minLevelCapacity)
}

func (r *refCompactKLL) update(x float64) {
	r.levels[0] = append(r.levels[0], x)
	r.size++
	for r.size > r.capTotal() {
		for h := range r.levels {
			if len(r.levels[h]) < r.capAt(h) {
				continue
			}
			if h+1 == len(r.levels) {
				r.levels = append(r.levels, nil)
			}
			lv := r.levels[h]
			n := len(lv) &^ 1
			slices.Sort(lv[:n])
			x := r.rng
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			r.rng = x
			for i := int(x >> 63); i < n; i += 2 {
				r.levels[h+1] = append(r.levels[h+1], lv[i])
			}
			if len(lv) > n {
				lv[0] = lv[n]
				r.levels[h] = lv[:1]
			} else {
				r.levels[h] = lv[:0]
			}
			r.size -= n / 2
			break
		}
	}
}

// The compactor merges the sorted runs of higher levels and sorts level 0
// with its own sort; the retained items must be exactly those of a
// compactor that sorts every level with slices.Sort.
func TestKLLMatchesFullSortCompactor(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 7))
	gens := map[string]func() float64{
		"uniform":  func() float64 { return rng.Float64() },
		"few":      func() float64 { return float64(rng.IntN(7)) },
		"skewed":   func() float64 { return math.Exp(rng.NormFloat64() * 3) },
		"rising":   func() func() float64 { i := 0.0; return func() float64 { i++; return i } }(),
		"sawtooth": func() func() float64 { i := 0; return func() float64 { i++; return float64(i % 1000) } }(),
	}
	for name, gen := range gens {
		for _, k := range []int{2048, 200, 8} {
			s := NewKLLWith(k, 0.64)
			ref := &refCompactKLL{k: k, c: 0.64, levels: [][]float64{nil}, rng: 0x9e3779b97f4a7c15}
			for range 300_000 {
				x := gen()
				s.Update(x)
				ref.update(x)
			}
			got := s.Levels()
			if len(got) != len(ref.levels) {
				t.Fatalf("%s k=%d: %d levels, want %d", name, k, len(got), len(ref.levels))
			}
			for h := range got {
				if !slices.Equal(got[h], ref.levels[h]) && !(len(got[h]) == 0 && len(ref.levels[h]) == 0) {
					t.Fatalf("%s k=%d: level %d differs from the full-sort compactor", name, k, h)
				}
			}
		}
	}
}

// Levels loaded from elsewhere (or merged) need not be runs of sorted
// halves; compaction must still promote what a full sort would.
func TestKLLMatchesFullSortCompactorFromLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	levels := make([][]float64, 6)
	for h := range levels {
		for range 40 + 30*h { // unsorted: many short runs
			levels[h] = append(levels[h], float64(rng.IntN(500)))
		}
	}
	s, err := KLLFromLevels(200, 0.64, levels)
	if err != nil {
		t.Fatal(err)
	}
	ref := &refCompactKLL{k: 200, c: 0.64, rng: 0x9e3779b97f4a7c15}
	for _, lv := range levels {
		ref.levels = append(ref.levels, slices.Clone(lv))
		ref.size += len(lv)
	}
	for range 50_000 {
		x := rng.Float64() * 500
		s.Update(x)
		ref.update(x)
	}
	got := s.Levels()
	if len(got) != len(ref.levels) {
		t.Fatalf("%d levels, want %d", len(got), len(ref.levels))
	}
	for h := range got {
		if !slices.Equal(got[h], ref.levels[h]) && !(len(got[h]) == 0 && len(ref.levels[h]) == 0) {
			t.Fatalf("level %d differs from the full-sort compactor", h)
		}
	}
}

func TestSortFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 3, 24, 25, 26, 91, 1000, 5000} {
		for _, mod := range []int{2, 5, 1 << 30} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(rng.IntN(mod))
			}
			for _, pattern := range []string{"random", "sorted", "reversed"} {
				switch pattern {
				case "sorted":
					slices.Sort(xs)
				case "reversed":
					slices.Sort(xs)
					slices.Reverse(xs)
				}
				want := slices.Clone(xs)
				slices.Sort(want)
				got := slices.Clone(xs)
				sortFloats(got)
				if !slices.Equal(got, want) {
					t.Fatalf("n=%d mod=%d %s: not sorted", n, mod, pattern)
				}
			}
		}
	}
}

func BenchmarkKLLUpdateFewValues(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 1<<16)
	for i := range xs {
		xs[i] = float64(r.IntN(300)) / 10
	}
	s := NewKLL()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Update(xs[i&(1<<16-1)])
		i++
	}
}
