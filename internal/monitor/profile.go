package monitor

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unsafe"

	"github.com/glassbox-dev/glassbox/internal/stats"
)

// This file is the streaming profiler: it turns rows of untyped cells into
// the per-column summaries of statistics.json in one pass, with state that
// merges, so a data set can be profiled in parallel chunks.
//
// Add is the hot path. In steady state it allocates nothing: cells are typed
// by a hand-written scanner over the source bytes; numbers of a column with
// few distinct values are only counted, others feed Moments and a KLL
// sketch; value counts are kept only where statistics.json needs them (see
// colState).

// DefaultMaxCategories is the number of distinct values whose exact counts
// a profiler keeps per column when ProfilerOptions.MaxCategories is zero.
const DefaultMaxCategories = 1000

// numericTrackLimit is how many distinct numeric texts a column keeps exact
// counts for while it has no String value. Most captured columns are
// numeric, and counting every distinct value of a continuous column would
// cost a map operation per cell and up to MaxCategories entries per column
// for counts nobody reads: statistics.json has no value counts for numeric
// columns. Flags and small codes (0/1, area codes, 0–9 call counts) stay
// under the limit; for them the counts are cheaper than Moments and KLL
// updates, which are derived from the counts instead, and if such a column
// later turns String its categorical buckets are still complete. The
// trade-off: when a column with more distinct numbers later turns String,
// its buckets and distinct count cover only the first numericTrackLimit
// numbers (with their counts up to the moment counting stopped) and every
// value after its first String value.
const numericTrackLimit = 16

// linearLookupLimit is the table size up to which a category is found by
// scanning the keys; a map takes over above it. For 0/1 columns a scan of
// two short strings is several times cheaper than hashing.
const linearLookupLimit = 8

// kllBucketCount is the number of equal-width KLL buckets statistics.json
// carries; SageMaker does not make it configurable.
const kllBucketCount = 10

// Value is one cell of an assembled row. Raw aliases the source bytes (valid
// only during Add).
type Value struct {
	Raw    []byte
	Null   bool // missing: empty CSV field, JSON null, absent key
	Quoted bool // the source typed it as a string (a JSON string); CSV fields are untyped
}

// Row is one assembled row. Names is nil for positional rows (CSV: column
// i), else Names[i] names Values[i] (flat JSON by key).
type Row struct {
	Names  []string
	Values []Value
}

// ProfilerOptions configure a Profiler. The zero value is usable.
type ProfilerOptions struct {
	// Names are the names of positional columns; a column beyond len(Names)
	// is named "_c<i>" (Spark's default).
	Names []string
	// MaxCategories is the number of distinct values whose exact counts are
	// kept per column; default DefaultMaxCategories. Beyond it the counts
	// keep only the values already seen, CategoriesComplete turns false and
	// the distinct count comes from a HyperLogLog sketch.
	MaxCategories int
}

// Profiler accumulates per-column statistics over a stream of rows. It is
// not safe for concurrent use; profile chunks with one Profiler each and
// Merge them.
//
// Typing of a cell: an empty or null cell is missing. A quoted cell is a
// String. An unquoted cell that is a decimal integer strconv.ParseInt
// accepts (optional sign, digits only, within int64) is Integral. Any other
// decimal literal strconv.ParseFloat accepts and that is finite is
// Fractional; hexadecimal floats, underscores, "NaN", "Inf" and literals that
// overflow float64 are Strings, so numeric statistics are always finite.
// Whitespace is not trimmed: " 5" is a String.
//
// A column's inferred type follows Deequ: no present value gives String in
// statistics (Unknown in constraints); any String value makes it String;
// else any Fractional value makes it Fractional; else it is Integral.
type Profiler struct {
	maxCategories int
	names         []string // positional names from the options
	cols          []*colState
	byName        map[string]int
	hints         []int // hints[i]: the column Names[i] mapped to in the last named row
	rows          int64
	positional    bool // some row was positional
}

// NewProfiler returns an empty profiler. The columns named in opts.Names
// exist from the start, so they are reported even if no row reaches them.
func NewProfiler(opts ProfilerOptions) *Profiler {
	p := &Profiler{
		maxCategories: opts.MaxCategories,
		names:         slices.Clone(opts.Names),
		byName:        make(map[string]int),
	}
	if p.maxCategories <= 0 {
		p.maxCategories = DefaultMaxCategories
	}
	for i := range opts.Names {
		p.addColumn(p.positionalName(i), 0)
	}
	return p
}

// positionalName names the column at index i of a positional row.
func (p *Profiler) positionalName(i int) string {
	if i < len(p.names) && p.names[i] != "" {
		return p.names[i]
	}
	return "_c" + strconv.Itoa(i)
}

// addColumn appends a column that the first `before` rows lacked.
func (p *Profiler) addColumn(name string, before int64) int {
	idx := len(p.cols)
	p.cols = append(p.cols, newColState(name, before))
	if _, dup := p.byName[name]; !dup {
		p.byName[name] = idx
	}
	return idx
}

// Rows returns the number of rows added (including merged ones).
func (p *Profiler) Rows() int64 { return p.rows }

// Add profiles one row. Positional values map to columns by index; named
// values by name, a new name appending a column in first-seen order whose
// earlier rows count as missing. A column the row does not reach counts a
// missing value. If a named row repeats a name, the first value counts and
// the later ones are ignored.
func (p *Profiler) Add(r *Row) {
	p.rows++
	stamp := p.rows
	if r.Names == nil {
		// Positional rows leave the stamps alone: a named row compares
		// them with its own, new stamp only.
		p.positional = true
		for i := range r.Values {
			if i == len(p.cols) {
				p.addColumn(p.positionalName(i), p.rows-1)
			}
			c := p.cols[i]
			if v := &r.Values[i]; !c.addSmall(v) {
				c.add(v, p.maxCategories)
			}
		}
		for _, c := range p.cols[min(len(r.Values), len(p.cols)):] {
			c.missing++
		}
		return
	}
	if len(p.hints) < len(r.Names) {
		p.hints = append(p.hints, make([]int, len(r.Names)-len(p.hints))...)
	}
	touched := 0
	for i, name := range r.Names {
		if i >= len(r.Values) {
			break
		}
		idx := p.hints[i]
		if idx >= len(p.cols) || p.cols[idx].name != name {
			var ok bool
			if idx, ok = p.byName[name]; !ok {
				idx = p.addColumn(name, p.rows-1)
			}
			p.hints[i] = idx
		}
		c := p.cols[idx]
		if c.stamp == stamp {
			continue // a repeated name: the first value counts
		}
		c.stamp = stamp
		touched++
		if v := &r.Values[i]; !c.addSmall(v) {
			c.add(v, p.maxCategories)
		}
	}
	if touched < len(p.cols) {
		for _, c := range p.cols {
			if c.stamp != stamp {
				c.missing++
			}
		}
	}
}

// Merge adds the rows profiled by o to p, as if p had seen them after its
// own. o is not modified. Columns are matched by index when both profilers
// received positional rows (then the names of the shared columns must agree),
// and by name otherwise; columns only one side has count the other side's
// rows as missing. Counts and moments merge exactly (up to floating-point
// rounding), KLL sketches within their error, value counts exactly while both
// sides kept them. p keeps its own MaxCategories. An error (layouts that
// disagree) is reported before p is changed.
func (p *Profiler) Merge(o *Profiler) error {
	if o == nil {
		return nil
	}
	if o == p {
		return fmt.Errorf("merge profiler: cannot merge a profiler into itself")
	}
	mapping := make([]int, len(o.cols))
	if p.positional && o.positional {
		for i, oc := range o.cols {
			if i < len(p.cols) {
				if p.cols[i].name != oc.name {
					return fmt.Errorf("merge profiler: column %d is %q here but %q in the other profiler", i, p.cols[i].name, oc.name)
				}
				mapping[i] = i
			} else {
				mapping[i] = -1
			}
		}
	} else {
		for i, oc := range o.cols {
			if idx, ok := p.byName[oc.name]; ok {
				mapping[i] = idx
			} else {
				mapping[i] = -1
			}
		}
	}
	merged := make([]bool, len(p.cols))
	for _, idx := range mapping {
		if idx >= 0 {
			merged[idx] = true
		}
	}
	for i, c := range p.cols {
		if !merged[i] {
			c.missing += o.rows
		}
	}
	for i, oc := range o.cols {
		idx := mapping[i]
		if idx < 0 {
			idx = p.addColumn(oc.name, p.rows)
		}
		if err := p.cols[idx].merge(oc, p.maxCategories); err != nil {
			return fmt.Errorf("merge profiler: %w", err)
		}
	}
	p.rows += o.rows
	p.positional = p.positional || o.positional
	return nil
}

// Profile is the result of profiling: the statistics.json document and the
// per-column detail behind it.
type Profile struct {
	Statistics Statistics      // statistics.json content
	Columns    []ColumnProfile // index-aligned with Statistics.Features
}

// ColumnProfile is the detail of one column, for suggesting constraints and
// for comparing with a baseline.
type ColumnProfile struct {
	Name                         string
	Present, Missing             int64
	Integral, Fractional, String int64            // present values by the type they parsed as
	Sketch                       *stats.KLL       // numeric values; nil when none
	Categories                   map[string]int64 // string values -> count (nil if none tracked)
	CategoriesComplete           bool             // false once MaxCategories overflowed
	// Distinct is the number of distinct values among the counted ones:
	// exact while CategoriesComplete, else a HyperLogLog estimate over
	// what was counted. For an all-numeric column with more than
	// numericTrackLimit distinct values, which is not counted, it is the
	// lower bound numericTrackLimit+1 and Categories is nil.
	Distinct float64
}

// InferredType returns the column's type by Deequ's rule (TypeString when
// no value is present).
func (c *ColumnProfile) InferredType() string {
	switch {
	case c.Present == 0 || c.String > 0:
		return TypeString
	case c.Fractional > 0:
		return TypeFractional
	default:
		return TypeIntegral
	}
}

// Profile returns a snapshot of the statistics so far; the profiler can
// keep going. A column with no present value is a String column with zero
// counts and no buckets. Every number written is finite: a sum that
// overflows float64 is clamped to ±math.MaxFloat64.
func (p *Profiler) Profile() *Profile {
	out := &Profile{
		Statistics: Statistics{
			Version:  0,
			Dataset:  DatasetStatistics{ItemCount: p.rows},
			Features: make([]FeatureStatistics, 0, len(p.cols)),
		},
		Columns: make([]ColumnProfile, 0, len(p.cols)),
	}
	for _, c := range p.cols {
		cp, mom := c.profile()
		out.Columns = append(out.Columns, cp)
		out.Statistics.Features = append(out.Statistics.Features, featureStatistics(&cp, &mom))
	}
	return out
}

// featureStatistics renders one column as statistics.json does.
func featureStatistics(cp *ColumnProfile, mom *stats.Moments) FeatureStatistics {
	f := FeatureStatistics{Name: cp.Name, InferredType: cp.InferredType()}
	common := CommonStatistics{NumPresent: cp.Present, NumMissing: cp.Missing}
	if f.InferredType == TypeString {
		buckets := make([]CategoricalBucket, 0, len(cp.Categories))
		for v, n := range cp.Categories {
			buckets = append(buckets, CategoricalBucket{Value: v, Count: float64(n)})
		}
		slices.SortFunc(buckets, func(a, b CategoricalBucket) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			return cmp.Compare(a.Value, b.Value)
		})
		f.StringStatistics = &StringStatistics{
			Common:        common,
			DistinctCount: cp.Distinct,
			Distribution:  StringDistribution{Categorical: &CategoricalDistribution{Buckets: buckets}},
		}
		return f
	}
	lo, hi := clampFinite(mom.Min()), clampFinite(mom.Max())
	k, c := cp.Sketch.Params()
	var buckets []KLLBucket
	for _, b := range stats.EqualWidthBuckets(cp.Sketch, lo, hi, kllBucketCount) {
		buckets = append(buckets, KLLBucket{LowerBound: b.Lower, UpperBound: b.Upper, Count: float64(b.Count)})
	}
	if buckets == nil {
		buckets = []KLLBucket{}
	}
	f.NumericalStatistics = &NumericalStatistics{
		Common: common,
		Mean:   clampFinite(mom.Mean()),
		Sum:    clampFinite(mom.Sum()),
		StdDev: clampFinite(mom.StdDevPop()),
		Min:    lo,
		Max:    hi,
		Distribution: NumericalDistribution{KLL: &KLLDistribution{
			Buckets: buckets,
			Sketch: KLLSketch{
				Parameters: KLLParameters{C: c, K: float64(k)},
				Data:       cp.Sketch.Levels(),
			},
		}},
	}
	return f
}

// finite maps NaN to 0 and ±Inf to ±math.MaxFloat64, since encoding/json
// cannot write either.
func clampFinite(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

// colState is the running state of one column.
//
// Numeric values take one of two paths. While a column has at most
// numericTrackLimit distinct numeric texts, each is only counted in nums
// (exact): no Moments update, no sketch update. Moments and an exact KLL
// sketch are derived from those counts when needed (a value seen n times is
// put at every level h where bit h of n is set, which is exact since an item
// at level h weighs 2^h). The first text beyond the limit moves the column
// to the second path for good: the counts are folded into mom and kll, and
// every later value updates both. Flags and small codes, most columns of a
// typical tabular model, never leave the first path.
//
// String statistics need value counts (cats). A column starts counting them
// at its first String value; the numeric texts counted in nums up to then
// are folded in, complete only if nums was still exact.
type colState struct {
	// The fields Add touches for every numeric cell come first, to share
	// cache lines.
	stamp                         int64 // the number of the last named row that set this column
	present, missing              int64
	integral, fractional, strings int64
	exact                         bool     // nums holds every numeric value
	nums                          catTable // numeric texts, their values and counts
	kll                           *stats.KLL
	mom                           stats.Moments
	cats                          catTable // value texts counted since the first String value
	complete                      bool     // cats holds every present value
	hll                           *stats.Distinct
	name                          string
}

func newColState(name string, missing int64) *colState {
	return &colState{name: name, missing: missing, exact: true, complete: true}
}

// addSmall is the inlined fast path of add: it profiles v and reports true
// when v is a one-digit text that this column, still all-numeric and
// counting, has counted before: the typical flag or code cell. Otherwise it
// does nothing and returns false.
func (c *colState) addSmall(v *Value) bool {
	if len(v.Raw) != 1 || v.Null || v.Quoted || !c.exact || c.strings != 0 {
		return false
	}
	d := v.Raw[0] - '0'
	if d > 9 || c.nums.small[d] == 0 {
		return false
	}
	c.nums.counts[c.nums.small[d]-1]++
	c.present++
	c.integral++
	return true
}

// add profiles one cell.
func (c *colState) add(v *Value, maxCats int) {
	raw := v.Raw
	if v.Null || len(raw) == 0 {
		c.missing++
		return
	}
	c.present++
	if c.exact && !v.Quoted {
		// The common case: a numeric text this column has counted before.
		// Its type and value were settled when it was first counted.
		if i := c.nums.find(raw); i >= 0 {
			c.nums.counts[i]++
			if c.nums.kinds[i] == cellIntegral {
				c.integral++
			} else {
				c.fractional++
			}
			if c.strings > 0 {
				c.track(raw, maxCats)
			}
			return
		}
	}
	var x float64
	kind := cellString
	if !v.Quoted {
		x, kind = parseNumber(raw)
	}
	switch kind {
	case cellIntegral:
		c.integral++
	case cellFractional:
		c.fractional++
	default:
		if c.strings == 0 {
			c.foldNums()
		}
		c.strings++
		c.track(raw, maxCats)
		return
	}
	if c.exact {
		// Not counted yet (found texts returned above).
		if len(c.nums.keys) < numericTrackLimit {
			c.nums.insertNum(string(raw), x, uint8(kind), 1)
		} else {
			c.leaveExact()
		}
	}
	if !c.exact {
		c.mom.Add(x)
		c.kll.Update(x)
	}
	if c.strings > 0 {
		c.track(raw, maxCats)
	}
}

// leaveExact moves the column from counting numeric texts to updating the
// moments and the sketch.
func (c *colState) leaveExact() {
	mom, kll := c.nums.summaries()
	c.mom.Merge(&mom)
	if c.kll == nil {
		c.kll = stats.NewKLL()
	}
	c.kll.Merge(kll)
	c.exact = false
}

// foldNums starts the value counts of a column that turns String with the
// numeric texts counted so far. If the column had left the exact path, the
// numeric values since then are not in the counts.
func (c *colState) foldNums() {
	for i, k := range c.nums.keys {
		c.addCat(k, c.nums.counts[i])
	}
	if !c.exact {
		c.complete = false
	}
}

// track counts a value's text: exactly for the first maxCats distinct
// values, and in the HyperLogLog sketch for everything after.
func (c *colState) track(raw []byte, maxCats int) {
	if c.hll != nil {
		c.hll.AddBytes(raw)
	}
	if i := c.cats.find(raw); i >= 0 {
		c.cats.counts[i]++
		return
	}
	if c.hll != nil {
		return // overflowed: only the values already seen keep counts
	}
	if len(c.cats.keys) >= maxCats {
		c.overflow()
		c.hll.AddBytes(raw)
		return
	}
	c.cats.insert(string(raw), 0, 1)
}

// addCat adds n occurrences of k to the value counts, ignoring MaxCategories
// (used when folding and merging, where the profiler's limit is applied by
// mergeCats).
func (c *colState) addCat(k string, n int64) {
	if i := c.cats.find(viewBytes(k)); i >= 0 {
		c.cats.counts[i] += n
		return
	}
	c.cats.insert(k, 0, n)
}

// overflow switches the distinct count to a HyperLogLog sketch seeded with
// the values counted so far.
func (c *colState) overflow() {
	c.complete = false
	c.hll = stats.NewDistinct()
	for _, k := range c.cats.keys {
		c.hll.AddBytes(viewBytes(k))
	}
}

// mergeCat adds n occurrences of k, respecting maxCats.
func (c *colState) mergeCat(k string, n int64, maxCats int) {
	if i := c.cats.find(viewBytes(k)); i >= 0 {
		c.cats.counts[i] += n
		return
	}
	if c.hll == nil && len(c.cats.keys) >= maxCats {
		c.overflow()
	}
	if c.hll != nil {
		c.hll.AddBytes(viewBytes(k))
		return
	}
	c.cats.insert(k, 0, n)
}

// merge adds o's state to c.
func (c *colState) merge(o *colState, maxCats int) error {
	// Value counts first, while c.strings and o.strings still say which
	// side had started counting.
	switch {
	case c.strings == 0 && o.strings > 0:
		c.foldNums()
	case c.strings > 0 && o.strings == 0:
		for i, k := range o.nums.keys {
			c.mergeCat(k, o.nums.counts[i], maxCats)
		}
		if !o.exact {
			c.complete = false
		}
	}
	if o.strings > 0 {
		for i, k := range o.cats.keys {
			c.mergeCat(k, o.cats.counts[i], maxCats)
		}
		c.complete = c.complete && o.complete
		if o.hll != nil {
			if c.hll == nil {
				c.overflow()
			}
			if err := c.hll.Merge(o.hll); err != nil {
				return fmt.Errorf("column %q: %w", c.name, err)
			}
		}
	}

	// Numeric values.
	if c.exact && o.exact {
		for i, k := range o.nums.keys {
			if j := c.nums.find(viewBytes(k)); j >= 0 {
				c.nums.counts[j] += o.nums.counts[i]
			} else {
				c.nums.insertNum(k, o.nums.vals[i], o.nums.kinds[i], o.nums.counts[i])
			}
		}
		if len(c.nums.keys) > numericTrackLimit {
			c.leaveExact()
		}
	} else {
		if c.exact {
			c.leaveExact()
		}
		mom, kll := &o.mom, o.kll
		if o.exact {
			m, k := o.nums.summaries()
			mom, kll = &m, k
		}
		c.mom.Merge(mom)
		c.kll.Merge(kll)
	}

	c.present += o.present
	c.missing += o.missing
	c.integral += o.integral
	c.fractional += o.fractional
	c.strings += o.strings
	return nil
}

// profile snapshots the column and returns its numeric moments.
func (c *colState) profile() (ColumnProfile, stats.Moments) {
	cp := ColumnProfile{
		Name:       c.name,
		Present:    c.present,
		Missing:    c.missing,
		Integral:   c.integral,
		Fractional: c.fractional,
		String:     c.strings,
	}
	var mom stats.Moments
	switch {
	case c.exact && len(c.nums.keys) > 0:
		mom, cp.Sketch = c.nums.summaries()
	case !c.exact:
		mom = c.mom
		k, cc := c.kll.Params()
		s, err := stats.KLLFromLevels(k, cc, c.kll.Levels())
		if err != nil {
			panic("monitor: copy of a live KLL sketch failed: " + err.Error()) // the levels came from a valid sketch
		}
		cp.Sketch = s
	}
	counts := &c.cats
	cp.CategoriesComplete = c.complete
	if c.strings == 0 {
		// An all-numeric (or empty) column: its counts are the exact
		// numeric ones, if it still has them.
		counts = &c.nums
		cp.CategoriesComplete = c.exact
	}
	if cp.CategoriesComplete || c.strings > 0 {
		if len(counts.keys) > 0 {
			cp.Categories = make(map[string]int64, len(counts.keys))
			for i, k := range counts.keys {
				cp.Categories[k] = counts.counts[i]
			}
		}
		cp.Distinct = float64(len(counts.keys))
	} else {
		// Counting stopped at the numericTrackLimit+1st distinct value.
		cp.Distinct = numericTrackLimit + 1
	}
	if c.hll != nil {
		cp.Distinct = max(float64(c.hll.Estimate()), cp.Distinct)
	}
	return cp, mom
}

// catTable counts distinct value texts. Keys are found by a linear scan
// while there are few, through a map beyond that; lookups never allocate.
// The texts "0" to "15", the flags and small codes most monitored columns
// hold, are found through a direct index instead. vals and kinds hold the
// numeric value and cell kind of each key when the table counts numbers.
type catTable struct {
	keys   []string
	vals   []float64
	kinds  []uint8
	counts []int64
	index  map[string]int32
	// small[n] is 1 + the index of the key that is the decimal text of n
	// (no sign, no leading zero), or 0 when there is none.
	small [smallKeys]int32
}

// smallKeys is the number of small integer texts catTable indexes directly.
const smallKeys = 16

// smallKey returns n when b is the canonical decimal text of an integer n
// below smallKeys, else -1.
func smallKey(b []byte) int {
	switch len(b) {
	case 1:
		if d := b[0] - '0'; d <= 9 {
			return int(d)
		}
	case 2:
		if d := b[1] - '0'; b[0] == '1' && d < smallKeys-10 {
			return 10 + int(d)
		}
	}
	return -1
}

func (t *catTable) find(b []byte) int {
	if n := smallKey(b); n >= 0 {
		return int(t.small[n]) - 1
	}
	if t.index == nil {
		if len(b) == 0 {
			return -1
		}
		// Compare length and first byte inline; most keys differ there.
		for i, k := range t.keys {
			if len(k) == len(b) && k[0] == b[0] && k[1:] == string(b[1:]) {
				return i
			}
		}
		return -1
	}
	if i, ok := t.index[string(b)]; ok {
		return int(i)
	}
	return -1
}

func (t *catTable) insert(k string, v float64, n int64) { t.insertNum(k, v, cellString, n) }

// insertNum adds a key that find does not know, with its numeric value and
// kind (cellString for a table of value texts).
func (t *catTable) insertNum(k string, v float64, kind uint8, n int64) {
	t.keys = append(t.keys, k)
	t.vals = append(t.vals, v)
	t.kinds = append(t.kinds, kind)
	t.counts = append(t.counts, n)
	if sk := smallKey(viewBytes(k)); sk >= 0 {
		t.small[sk] = int32(len(t.keys))
	}
	switch {
	case t.index != nil:
		t.index[k] = int32(len(t.keys) - 1)
	case len(t.keys) > linearLookupLimit:
		t.index = make(map[string]int32, 2*len(t.keys))
		for i, k := range t.keys {
			t.index[k] = int32(i)
		}
	}
}

// summaries returns the moments and an exact KLL sketch of the counted
// numeric values. A value counted n times goes into the moments by binary
// doubling (O(log n) merges) and into the sketch once at each level h where
// bit h of n is set.
func (t *catTable) summaries() (stats.Moments, *stats.KLL) {
	var mom stats.Moments
	var levels [][]float64
	for i, v := range t.vals {
		n := t.counts[i]
		var one stats.Moments
		one.Add(v)
		for h := 0; n > 0; h++ {
			if n&1 == 1 {
				mom.Merge(&one)
				for len(levels) <= h {
					levels = append(levels, []float64{})
				}
				levels[h] = append(levels[h], v)
			}
			n >>= 1
			if n > 0 {
				twice := one
				one.Merge(&twice)
			}
		}
	}
	k, c := stats.NewKLL().Params()
	s, err := stats.KLLFromLevels(k, c, levels)
	if err != nil {
		panic("monitor: exact KLL sketch rejected: " + err.Error()) // finite values, at most 63 levels
	}
	return mom, s
}

// Kinds of a cell's text.
const (
	cellString = iota
	cellIntegral
	cellFractional
)

// exactPow10 holds the powers of ten that float64 represents exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber types a non-empty unquoted cell and returns its value. It
// accepts the decimal grammar [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?.
// Integers of up to 18 digits and decimals of up to 15 significant digits
// without exponent are converted here without calling strconv: the digits
// form an exact integer m < 2^53 and the result m / 10^f is one correctly
// rounded division, the same value strconv.ParseFloat returns (Clinger's
// fast path). Everything else is converted by strconv on a zero-copy view.
func parseNumber(b []byte) (float64, int) {
	n := len(b)
	i := 0
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i++
	}
	var m uint64
	start := i
	for i < n && b[i]-'0' <= 9 {
		m = m*10 + uint64(b[i]-'0')
		i++
	}
	intDigits := i - start
	if i == n {
		switch {
		case intDigits == 0:
			return 0, cellString
		case intDigits <= 18:
			x := float64(m)
			if neg {
				x = -x
			}
			return x, cellIntegral
		}
		if v, err := strconv.ParseInt(viewString(b), 10, 64); err == nil {
			return float64(v), cellIntegral
		}
		// Out of int64 range: still a number, but not an integer Spark
		// would type as one.
		return parseFloat(b)
	}
	fracDigits := 0
	if b[i] == '.' {
		i++
		fs := i
		for i < n && b[i]-'0' <= 9 {
			m = m*10 + uint64(b[i]-'0')
			i++
		}
		fracDigits = i - fs
	}
	if intDigits+fracDigits == 0 {
		return 0, cellString
	}
	if i == n && intDigits+fracDigits <= 15 {
		x := float64(m) / exactPow10[fracDigits]
		if neg {
			x = -x
		}
		return x, cellFractional
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		es := i
		for i < n && b[i]-'0' <= 9 {
			i++
		}
		if i == es {
			return 0, cellString
		}
	}
	if i != n {
		return 0, cellString
	}
	return parseFloat(b)
}

// parseFloat converts a syntactically valid decimal literal. Literals that
// overflow to ±Inf are Strings (strconv reports a range error); underflow
// gives zero or a subnormal without error and stays Fractional.
func parseFloat(b []byte) (float64, int) {
	x, err := strconv.ParseFloat(viewString(b), 64)
	if err != nil || math.IsInf(x, 0) {
		return 0, cellString
	}
	return x, cellFractional
}

// viewString views b as a string without copying; the string must not
// outlive b's contents.
func viewString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// viewBytes views s as bytes without copying; the bytes must not be
// modified.
func viewBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
