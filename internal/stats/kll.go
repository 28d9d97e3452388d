package stats

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Default KLL parameters. They are the values SageMaker Model Monitor writes
// into statistics.json ("parameters": {"c": 0.64, "k": 2048.0}).
const (
	DefaultKLLK = 2048
	DefaultKLLC = 0.64
)

// minLevelCapacity is the smallest number of items a compactor level may hold
// before it is compacted. Two is the least that lets a compaction make progress.
const minLevelCapacity = 2

// KLL is a mergeable quantile sketch in the style of Karnin, Lang and Liberty
// (2016). It keeps a stack of compactor levels; an item stored at level h
// stands for 2^h input values. When the sketch holds more items than the sum
// of the level capacities, the lowest full level is sorted and every second
// item (starting at a random offset of 0 or 1) is promoted to the level above
// with twice the weight, and the rest are dropped.
//
// The level capacities follow the KLL paper: the top level may hold k items
// and each level below it c times as many as the one above (at least two).
// The serialised form is only the list of levels, so a sketch written by
// Deequ (which sizes its levels differently) loads and keeps working here.
//
// A KLL is not safe for concurrent use.
type KLL struct {
	k      int
	c      float64
	levels [][]float64
	// count is the total weight, the sum over levels of len(level)*2^h.
	count int64
	// size is the number of retained items; maxSize the sum of the capacities.
	size    int
	maxSize int
	// caps[h] is the capacity of level h for the current number of
	// levels (see capacity); recomputed when a level is added.
	caps []int
	// scratch is reused by compact to merge the sorted runs of a level.
	scratch []float64
	// rng drives the choice of compaction offset. It is seeded with a fixed
	// value so that a sketch fed the same input is reproducible.
	rng uint64
}

// NewKLL returns an empty sketch with SageMaker's parameters k=2048, c=0.64.
func NewKLL() *KLL { return NewKLLWith(DefaultKLLK, DefaultKLLC) }

// NewKLLWith returns an empty sketch with sketch size k and shrinking factor
// c. Out-of-range values (k < 2, c outside (0,1]) are replaced by the defaults;
// use KLLFromLevels when invalid parameters should be reported as errors.
func NewKLLWith(k int, c float64) *KLL {
	if k < minLevelCapacity {
		k = DefaultKLLK
	}
	if !(c > 0 && c <= 1) {
		c = DefaultKLLC
	}
	s := &KLL{k: k, c: c, rng: 0x9e3779b97f4a7c15}
	s.grow()
	return s
}

// KLLFromLevels rebuilds a sketch from its parameters and compactor levels
// (level 0 first), the shape of statistics.json "sketch". The levels are
// copied. The result reports exactly the ranks the writer's sketch reported
// and accepts further updates and merges.
func KLLFromLevels(k int, c float64, levels [][]float64) (*KLL, error) {
	if k < minLevelCapacity {
		return nil, fmt.Errorf("load kll sketch: k must be at least %d, got %d", minLevelCapacity, k)
	}
	if math.IsNaN(c) || c <= 0 || c > 1 {
		return nil, fmt.Errorf("load kll sketch: c must be in (0, 1], got %v", c)
	}
	if len(levels) > 62 {
		return nil, fmt.Errorf("load kll sketch: %d levels exceed the 62 that fit an int64 weight", len(levels))
	}
	s := &KLL{k: k, c: c, rng: 0x9e3779b97f4a7c15}
	for h, lv := range levels {
		for i, x := range lv {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("load kll sketch: level %d item %d is %v; items must be finite", h, i, x)
			}
		}
		w := int64(1) << h
		if int64(len(lv)) > (math.MaxInt64-s.count)/w {
			return nil, errors.New("load kll sketch: total weight overflows int64")
		}
		s.levels = append(s.levels, slices.Clone(lv))
		s.count += int64(len(lv)) * w
		s.size += len(lv)
	}
	if len(s.levels) == 0 {
		s.grow()
	}
	s.maxSize = s.capacityTotal()
	return s, nil
}

// Params returns the sketch size k and the shrinking factor c.
func (s *KLL) Params() (k int, c float64) { return s.k, s.c }

// Count returns the total weight of the sketch, which is the number of
// values it summarises.
func (s *KLL) Count() int64 { return s.count }

// Update adds one value. NaN is ignored. The cost is an append, plus now and
// then a compaction whose cost is spread over the values that filled it.
func (s *KLL) Update(x float64) {
	if x != x { // NaN
		return
	}
	s.levels[0] = append(s.levels[0], x)
	s.size++
	s.count++
	if s.size > s.maxSize {
		s.compress()
	}
}

// Merge adds the contents of o to s. o is not modified. Merging sketches with
// different parameters is allowed; s keeps its own.
func (s *KLL) Merge(o *KLL) {
	if o == nil || o.count == 0 {
		return
	}
	for len(s.levels) < len(o.levels) {
		s.grow()
	}
	for h, lv := range o.levels {
		s.levels[h] = append(s.levels[h], lv...)
		s.size += len(lv)
	}
	s.count += o.count
	s.compress()
}

// Rank returns the total weight of the retained items that are <= x.
func (s *KLL) Rank(x float64) int64 {
	var r int64
	for h, lv := range s.levels {
		var n int64
		for _, v := range lv {
			if v <= x {
				n++
			}
		}
		r += n << h
	}
	return r
}

// CDF returns Rank(x)/Count(), or 0 for an empty sketch.
func (s *KLL) CDF(x float64) float64 {
	if s.count == 0 {
		return 0
	}
	return float64(s.Rank(x)) / float64(s.count)
}

// Quantile returns the smallest retained item whose cumulative weight reaches
// q*Count(). q is clamped to [0, 1]; Quantile(0) is the smallest retained
// item and Quantile(1) the largest. It returns NaN for an empty sketch or a
// NaN q.
func (s *KLL) Quantile(q float64) float64 {
	if s.count == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	vals, wts := s.Items()
	target := q * float64(s.count)
	var cum int64
	for i, w := range wts {
		cum += w
		if float64(cum) >= target {
			return vals[i]
		}
	}
	return vals[len(vals)-1]
}

// Levels returns a copy of the compactor contents, level 0 first. Trailing
// empty levels are kept so that the shape matches the sketch's state.
func (s *KLL) Levels() [][]float64 {
	out := make([][]float64, len(s.levels))
	for h, lv := range s.levels {
		out[h] = slices.Clone(lv)
		if out[h] == nil {
			out[h] = []float64{}
		}
	}
	return out
}

// Items returns every retained item sorted by value together with its
// weight. Equal values are not combined.
func (s *KLL) Items() (values []float64, weights []int64) {
	type item struct {
		v float64
		w int64
	}
	all := make([]item, 0, s.size)
	for h, lv := range s.levels {
		for _, v := range lv {
			all = append(all, item{v, int64(1) << h})
		}
	}
	slices.SortFunc(all, func(a, b item) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	values = make([]float64, len(all))
	weights = make([]int64, len(all))
	for i, it := range all {
		values[i], weights[i] = it.v, it.w
	}
	return values, weights
}

// retained returns the number of items held in all levels.
func (s *KLL) retained() int { return s.size }

// capacity returns how many items level h may hold before it is compacted,
// given the current number of levels: ceil(k * c^depth), at least
// minLevelCapacity, where depth counts the levels above h.
func (s *KLL) capacity(h int) int { return s.caps[h] }

// levelCapacity computes the capacity of a level with depth levels above it.
func (s *KLL) levelCapacity(depth int) int {
	c := int(math.Ceil(float64(s.k) * math.Pow(s.c, float64(depth))))
	return max(c, minLevelCapacity)
}

// capacityTotal recomputes the cached capacities for the current number of
// levels and returns their sum.
func (s *KLL) capacityTotal() int {
	s.caps = s.caps[:0]
	t := 0
	for h := range s.levels {
		c := s.levelCapacity(len(s.levels) - 1 - h)
		s.caps = append(s.caps, c)
		t += c
	}
	return t
}

// grow adds an empty level on top. The capacities of all levels depend on the
// number of levels, so the total is recomputed.
func (s *KLL) grow() {
	s.levels = append(s.levels, make([]float64, 0, minLevelCapacity))
	s.maxSize = s.capacityTotal()
}

// compress compacts the lowest level that is at or over its capacity until
// the sketch fits its total capacity again. One compaction suffices after an
// Update; a merge or a loaded sketch may need several.
func (s *KLL) compress() {
	for s.size > s.maxSize {
		compacted := false
		for h := 0; h < len(s.levels); h++ {
			if len(s.levels[h]) >= s.capacity(h) {
				if h+1 == len(s.levels) {
					s.grow()
				}
				s.compact(h)
				compacted = true
				break
			}
		}
		if !compacted {
			// Unreachable while size is the sum of the level lengths, since
			// a total over capacity means some level is over its own; the
			// check only guarantees that the loop ends.
			return
		}
	}
}

// compact halves level h into level h+1. With an odd number of items the
// most recently added one stays behind, so the weight is preserved exactly.
//
// The items to halve must be in sorted order. Level 0 holds raw input and is
// sorted; a higher level is a concatenation of the sorted halves that
// compactions of the level below appended to it, so its ascending runs are
// merged instead (a level with many runs, as Merge or KLLFromLevels may
// leave, is sorted). The promoted items are the same as with a full sort.
func (s *KLL) compact(h int) {
	lv := s.levels[h]
	n := len(lv) &^ 1
	part := lv[:n]
	if h == 0 {
		sortFloats(part)
	} else {
		part = s.mergeRuns(part)
	}
	off := int(s.nextBit())
	up := slices.Grow(s.levels[h+1], n/2)
	for i := off; i < n; i += 2 {
		up = append(up, part[i])
	}
	s.levels[h+1] = up
	if len(lv) > n {
		lv[0] = lv[n]
		s.levels[h] = lv[:1]
	} else {
		s.levels[h] = lv[:0]
	}
	s.size -= n / 2
}

// maxMergeRuns is the number of ascending runs up to which mergeRuns merges
// them; beyond it a level is sorted outright.
const maxMergeRuns = 16

// mergeRuns returns the items of xs in ascending order, either xs sorted in
// place or a sorted copy in s.scratch. xs is a concatenation of ascending
// runs; they are merged pairwise, ping-ponging between xs and the scratch
// buffer.
func (s *KLL) mergeRuns(xs []float64) []float64 {
	var bounds [maxMergeRuns + 1]int
	nb := 1 // bounds[0] = 0
	for i := 1; i < len(xs); i++ {
		if xs[i] < xs[i-1] {
			if nb == maxMergeRuns {
				sortFloats(xs)
				return xs
			}
			bounds[nb] = i
			nb++
		}
	}
	if nb == 1 {
		return xs
	}
	bounds[nb] = len(xs)
	runs := nb
	if cap(s.scratch) < len(xs) {
		s.scratch = make([]float64, len(xs), max(len(xs), 2*cap(s.scratch)))
	}
	src, dst := xs, s.scratch[:len(xs)]
	for runs > 1 {
		w := 0
		for r := 0; r < runs; r += 2 {
			lo := bounds[r]
			if r+1 == runs {
				copy(dst[lo:], src[lo:bounds[r+1]])
			} else {
				mergeFloats(dst[lo:bounds[r+2]], src[lo:bounds[r+1]], src[bounds[r+1]:bounds[r+2]])
			}
			bounds[w] = lo
			w++
		}
		bounds[w] = len(xs)
		runs = w
		src, dst = dst, src
	}
	return src
}

// mergeFloats merges the ascending slices a and b into dst, which has room
// for both. Equal items keep a's first. The loop is branch-free (the
// choice compiles to conditional moves), since on unpredictable data a
// mispredicted branch per item would dominate.
func mergeFloats(dst, a, b []float64) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		pair := [2]float64{a[i], b[j]}
		tb := 0
		if pair[1] < pair[0] {
			tb = 1
		}
		dst[k] = pair[tb]
		j += tb
		i += 1 - tb
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}

// nextBit returns a pseudo-random bit from a xorshift64 generator.
func (s *KLL) nextBit() uint64 {
	x := s.rng
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	s.rng = x
	return x >> 63
}

// sortFloats sorts xs ascending. Items are never NaN (Update drops NaN and
// KLLFromLevels rejects it), so plain comparisons order them, which is
// cheaper than slices.Sort's NaN-aware ordering. It is a quicksort with a
// median-of-three pivot and a branch-free Lomuto partition (on unpredictable
// data a mispredicted branch per comparison costs more than the extra
// writes), and insertion sort for short ranges. A range with nothing below
// its pivot has the items equal to the pivot gathered and skipped, so runs
// of equal values, common in monitored data, cost linear time. Inputs that
// drive it too deep are handed to slices.Sort.
func sortFloats(xs []float64) { quickSortFloats(xs, 2*bits.Len(uint(len(xs)))) }

func quickSortFloats(xs []float64, depth int) {
	for len(xs) > 12 {
		if depth == 0 {
			slices.Sort(xs)
			return
		}
		depth--
		// Median of three to the end.
		m, last := len(xs)/2, len(xs)-1
		if xs[m] < xs[0] {
			xs[m], xs[0] = xs[0], xs[m]
		}
		if xs[last] < xs[m] {
			xs[last], xs[m] = xs[m], xs[last]
			if xs[m] < xs[0] {
				xs[m], xs[0] = xs[0], xs[m]
			}
		}
		xs[m], xs[last] = xs[last], xs[m]
		p := xs[last]
		k := 0
		for i := 0; i < last; i++ {
			t := xs[i]
			xs[i] = xs[k]
			xs[k] = t
			c := 0
			if t < p {
				c = 1
			}
			k += c
		}
		if k == 0 {
			// Nothing below the pivot: gather the items equal to it,
			// which need no further sorting.
			for i := 0; i < last; i++ {
				t := xs[i]
				xs[i] = xs[k]
				xs[k] = t
				c := 1
				if p < t {
					c = 0
				}
				k += c
			}
			xs[k], xs[last] = xs[last], xs[k]
			xs = xs[k+1:]
			continue
		}
		xs[k], xs[last] = xs[last], xs[k]
		if k < len(xs)-1-k {
			quickSortFloats(xs[:k], depth)
			xs = xs[k+1:]
		} else {
			quickSortFloats(xs[k+1:], depth)
			xs = xs[:k]
		}
	}
	for i := 1; i < len(xs); i++ {
		x := xs[i]
		j := i
		for j > 0 && x < xs[j-1] {
			xs[j] = xs[j-1]
			j--
		}
		xs[j] = x
	}
}
