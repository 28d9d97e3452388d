package monitor_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// csvRow builds a positional row of unquoted cells; "" is an empty field.
func csvRow(cells ...string) *monitor.Row {
	r := &monitor.Row{Values: make([]monitor.Value, len(cells))}
	for i, c := range cells {
		r.Values[i] = monitor.Value{Raw: []byte(c), Null: c == ""}
	}
	return r
}

// profileOf profiles rows of unquoted cells.
func profileOf(t testing.TB, opts monitor.ProfilerOptions, rows ...[]string) *monitor.Profile {
	t.Helper()
	p := monitor.NewProfiler(opts)
	for _, r := range rows {
		p.Add(csvRow(r...))
	}
	return p.Profile()
}

func column(cells ...string) [][]string {
	rows := make([][]string, len(cells))
	for i, c := range cells {
		rows[i] = []string{c}
	}
	return rows
}

func TestProfiler_CellTypes(t *testing.T) {
	tests := []struct {
		cell   string
		quoted bool
		want   string // "missing", or the type the cell counts as
	}{
		{"", false, "missing"},
		{"", true, "missing"},
		{"0", false, monitor.TypeIntegral},
		{"-3", false, monitor.TypeIntegral},
		{"+4", false, monitor.TypeIntegral},
		{"007", false, monitor.TypeIntegral},
		{"9223372036854775807", false, monitor.TypeIntegral},
		{"9223372036854775808", false, monitor.TypeFractional}, // beyond int64
		{"1.5", false, monitor.TypeFractional},
		{"6.0", false, monitor.TypeFractional},
		{".5", false, monitor.TypeFractional},
		{"5.", false, monitor.TypeFractional},
		{"-1e3", false, monitor.TypeFractional},
		{"1E-2", false, monitor.TypeFractional},
		{"1e-400", false, monitor.TypeFractional}, // underflows to 0
		{"1e400", false, monitor.TypeString},      // overflows
		{"NaN", false, monitor.TypeString},
		{"Inf", false, monitor.TypeString},
		{"-Infinity", false, monitor.TypeString},
		{"0x10", false, monitor.TypeString},
		{"1_000", false, monitor.TypeString},
		{" 5", false, monitor.TypeString},
		{"5 ", false, monitor.TypeString},
		{"-", false, monitor.TypeString},
		{".", false, monitor.TypeString},
		{"1e", false, monitor.TypeString},
		{"1.2.3", false, monitor.TypeString},
		{"true", false, monitor.TypeString},
		{"5", true, monitor.TypeString}, // a JSON string
		{"abc", false, monitor.TypeString},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q quoted=%v", tt.cell, tt.quoted), func(t *testing.T) {
			p := monitor.NewProfiler(monitor.ProfilerOptions{})
			p.Add(&monitor.Row{Values: []monitor.Value{{Raw: []byte(tt.cell), Null: false, Quoted: tt.quoted}}})
			c := p.Profile().Columns[0]
			got := "missing"
			switch {
			case c.Integral == 1:
				got = monitor.TypeIntegral
			case c.Fractional == 1:
				got = monitor.TypeFractional
			case c.String == 1:
				got = monitor.TypeString
			}
			if got != tt.want {
				t.Errorf("cell counted as %s, want %s (profile %+v)", got, tt.want, c)
			}
			if tt.want == "missing" && c.Missing != 1 {
				t.Errorf("Missing = %d, want 1", c.Missing)
			}
		})
	}
}

// The profiler's own number scanner must give exactly strconv's values.
func TestProfiler_NumberValuesMatchStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cells := []string{"0.1", "0.3", "123456789012345", "1234567890.12345", "0.000000000000001",
		"999999999999999", "9007199254740993", "123456789012345678", "-0.0", "4.35", "274.4", "1.7976931348623157e308",
		"4e-320", "12345678901234567890.5"}
	for range 5000 {
		switch rng.IntN(3) {
		case 0:
			cells = append(cells, strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(20)-10)), 'f', rng.IntN(12), 64))
		case 1:
			cells = append(cells, strconv.FormatInt(rng.Int64N(1<<62)-1<<61, 10))
		default:
			cells = append(cells, strconv.FormatFloat(rng.Float64()*1000, 'g', -1, 64))
		}
	}
	for _, cell := range cells {
		want, err := strconv.ParseFloat(cell, 64)
		if err != nil {
			t.Fatalf("bad test cell %q: %v", cell, err)
		}
		p := monitor.NewProfiler(monitor.ProfilerOptions{})
		p.Add(csvRow(cell))
		ns := p.Profile().Statistics.Features[0].NumericalStatistics
		if ns == nil {
			t.Fatalf("cell %q is not numeric", cell)
		}
		if math.Float64bits(ns.Min) != math.Float64bits(want) {
			t.Errorf("cell %q parsed as %v (bits %x), strconv says %v (bits %x)", cell, ns.Min, math.Float64bits(ns.Min), want, math.Float64bits(want))
		}
	}
}

func TestProfiler_ColumnType(t *testing.T) {
	tests := []struct {
		name  string
		cells []string
		want  string
	}{
		{"integers", []string{"1", "2", ""}, monitor.TypeIntegral},
		{"any fractional", []string{"1", "2.5", "3"}, monitor.TypeFractional},
		{"any string", []string{"1", "2.5", "x"}, monitor.TypeString},
		{"no present value", []string{"", ""}, monitor.TypeString},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prof := profileOf(t, monitor.ProfilerOptions{}, column(tt.cells...)...)
			if got := prof.Statistics.Features[0].InferredType; got != tt.want {
				t.Errorf("inferred_type = %s, want %s", got, tt.want)
			}
			if got := prof.Columns[0].InferredType(); got != tt.want {
				t.Errorf("ColumnProfile.InferredType() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestProfiler_Statistics(t *testing.T) {
	prof := profileOf(t, monitor.ProfilerOptions{Names: []string{"amount", "country"}},
		[]string{"1", "DE"},
		[]string{"2", "FR"},
		[]string{"", "DE"},
		[]string{"7", ""},
		[]string{"10", "DE"},
	)
	one := func(lo, hi, n float64) monitor.KLLBucket {
		return monitor.KLLBucket{LowerBound: lo, UpperBound: hi, Count: n}
	}
	want := monitor.Statistics{
		Version: 0,
		Dataset: monitor.DatasetStatistics{ItemCount: 5},
		Features: []monitor.FeatureStatistics{
			{
				Name: "amount", InferredType: monitor.TypeIntegral,
				NumericalStatistics: &monitor.NumericalStatistics{
					Common: monitor.CommonStatistics{NumPresent: 4, NumMissing: 1},
					Mean:   5, Sum: 20, StdDev: math.Sqrt((16 + 9 + 4 + 25) / 4.0), Min: 1, Max: 10,
					Distribution: monitor.NumericalDistribution{KLL: &monitor.KLLDistribution{
						Buckets: []monitor.KLLBucket{
							one(1, 1.9, 1), one(1.9, 2.8, 1), one(2.8, 3.7, 0), one(3.7, 4.6, 0), one(4.6, 5.5, 0),
							one(5.5, 6.4, 0), one(6.4, 7.3, 1), one(7.3, 8.2, 0), one(8.2, 9.1, 0), one(9.1, 10, 1),
						},
						Sketch: monitor.KLLSketch{
							Parameters: monitor.KLLParameters{C: 0.64, K: 2048},
							Data:       [][]float64{{1, 2, 7, 10}},
						},
					}},
				},
			},
			{
				Name: "country", InferredType: monitor.TypeString,
				StringStatistics: &monitor.StringStatistics{
					Common:        monitor.CommonStatistics{NumPresent: 4, NumMissing: 1},
					DistinctCount: 2,
					Distribution: monitor.StringDistribution{Categorical: &monitor.CategoricalDistribution{
						Buckets: []monitor.CategoricalBucket{{Value: "DE", Count: 3}, {Value: "FR", Count: 1}},
					}},
				},
			},
		},
	}
	if diff := cmp.Diff(want, prof.Statistics, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("statistics (-want +got):\n%s", diff)
	}
	c := prof.Columns[1]
	if !c.CategoriesComplete || c.Distinct != 2 || c.Sketch != nil {
		t.Errorf("country column = %+v, want complete categories, 2 distinct, no sketch", c)
	}
	if c := prof.Columns[0]; c.Sketch == nil || c.Sketch.Count() != 4 || c.Integral != 4 {
		t.Errorf("amount column = %+v, want a sketch of 4 values and 4 integral cells", c)
	}
}

// A column that never saw a value, and a profile of no rows, must still
// encode: encoding/json refuses NaN.
func TestProfiler_EmptyColumnEncodes(t *testing.T) {
	p := monitor.NewProfiler(monitor.ProfilerOptions{Names: []string{"a", "b"}})
	p.Add(csvRow("", ""))
	prof := p.Profile()
	for _, f := range prof.Statistics.Features {
		if f.InferredType != monitor.TypeString || f.StringStatistics == nil || f.StringStatistics.Common.NumMissing != 1 {
			t.Errorf("feature %+v, want an empty String feature with one missing value", f)
		}
	}
	b, err := json.Marshal(prof.Statistics)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"buckets":[]`; !contains(string(b), want) {
		t.Errorf("encoded %s, want it to contain %s", b, want)
	}
	if _, err := json.Marshal(monitor.NewProfiler(monitor.ProfilerOptions{}).Profile().Statistics); err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestProfiler_RaggedPositionalRows(t *testing.T) {
	prof := profileOf(t, monitor.ProfilerOptions{Names: []string{"a"}},
		[]string{"1"},
		[]string{"2", "x", "3"},
		[]string{"4", "y"},
	)
	var got []string
	for _, c := range prof.Columns {
		got = append(got, fmt.Sprintf("%s present=%d missing=%d", c.Name, c.Present, c.Missing))
	}
	want := []string{"a present=3 missing=0", "_c1 present=2 missing=1", "_c2 present=1 missing=2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}

func named(kv ...string) *monitor.Row {
	r := &monitor.Row{}
	for i := 0; i < len(kv); i += 2 {
		r.Names = append(r.Names, kv[i])
		r.Values = append(r.Values, monitor.Value{Raw: []byte(kv[i+1]), Null: kv[i+1] == "", Quoted: false})
	}
	return r
}

func TestProfiler_NamedRows(t *testing.T) {
	p := monitor.NewProfiler(monitor.ProfilerOptions{})
	p.Add(named("b", "1", "a", "2"))
	p.Add(named("a", "3", "c", "4"))          // b absent, c new
	p.Add(named("c", "5", "c", "9", "b", "")) // repeated c: the first counts
	var got []string
	for _, c := range p.Profile().Columns {
		got = append(got, fmt.Sprintf("%s present=%d missing=%d", c.Name, c.Present, c.Missing))
	}
	want := []string{"b present=1 missing=2", "a present=2 missing=1", "c present=2 missing=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if max := p.Profile().Statistics.Features[2].NumericalStatistics.Max; max != 5 {
		t.Errorf("c max = %v, want 5 (the repeated value is ignored)", max)
	}
}

func TestProfiler_Categories(t *testing.T) {
	t.Run("overflow of MaxCategories", func(t *testing.T) {
		p := monitor.NewProfiler(monitor.ProfilerOptions{MaxCategories: 3})
		for _, v := range []string{"a", "b", "a", "c", "d", "e", "a", "d"} {
			p.Add(csvRow(v))
		}
		c := p.Profile().Columns[0]
		if c.CategoriesComplete {
			t.Error("CategoriesComplete = true after overflow")
		}
		if diff := cmp.Diff(map[string]int64{"a": 3, "b": 1, "c": 1}, c.Categories); diff != "" {
			t.Errorf("categories (-want +got):\n%s", diff)
		}
		if c.Distinct != 5 {
			t.Errorf("Distinct = %v, want 5 (HyperLogLog is exact this small)", c.Distinct)
		}
	})
	t.Run("small numeric column keeps counts", func(t *testing.T) {
		c := profileOf(t, monitor.ProfilerOptions{}, column("0", "1", "1", "0", "1")...).Columns[0]
		if diff := cmp.Diff(map[string]int64{"0": 2, "1": 3}, c.Categories); diff != "" || !c.CategoriesComplete || c.Distinct != 2 {
			t.Errorf("categories %v complete=%v distinct=%v, want {0:2 1:3} complete, 2 distinct", c.Categories, c.CategoriesComplete, c.Distinct)
		}
	})
	t.Run("wide numeric column stops counting, then turns String", func(t *testing.T) {
		var cells []string
		for i := range 100 {
			cells = append(cells, strconv.Itoa(i))
		}
		cells = append(cells, "n/a", "n/a", "5", "200")
		prof := profileOf(t, monitor.ProfilerOptions{}, column(cells...)...)
		c := prof.Columns[0]
		if c.CategoriesComplete {
			t.Error("CategoriesComplete = true for a column whose numbers were not all counted")
		}
		if c.InferredType() != monitor.TypeString || c.Categories["n/a"] != 2 || c.Categories["5"] != 2 || c.Categories["200"] != 1 {
			t.Errorf("categories = %v, want n/a:2, 5:2 (counted before and after the string), 200:1", c.Categories)
		}
		if _, ok := c.Categories["50"]; ok {
			t.Error("value 50 was counted although the column was all-numeric and wide when it came")
		}
		if len(c.Categories) > 20 {
			t.Errorf("%d categories kept, want the tracking limit plus what came after the string", len(c.Categories))
		}
		if n := prof.Statistics.Features[0].StringStatistics.Common.NumPresent; n != 104 {
			t.Errorf("num_present = %d, want 104", n)
		}
	})
}

// churnLikeRow makes a 70-column row like the churn training set: a 0/1
// label, a few integer counts, four fractional minutes and one-hot flags.
func churnLikeRow(rng *rand.Rand, cells [][]byte) {
	for i := range cells {
		var s string
		switch {
		case i == 0:
			s = strconv.Itoa(rng.IntN(2))
		case i < 12 && i%2 == 1:
			s = strconv.FormatFloat(float64(rng.IntN(3500))/10, 'f', 1, 64)
		case i < 12:
			s = strconv.Itoa(rng.IntN(160))
		default:
			s = strconv.Itoa(rng.IntN(2))
		}
		cells[i] = append(cells[i][:0], s...)
	}
}

func TestProfiler_MergeEqualsSinglePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 6000
	rows := make([]*monitor.Row, n)
	for i := range rows {
		cells := make([][]byte, 12)
		churnLikeRow(rng, cells)
		r := &monitor.Row{Values: make([]monitor.Value, 0, 13)}
		for _, c := range cells {
			r.Values = append(r.Values, monitor.Value{Raw: c})
		}
		if i%7 == 0 {
			r.Values[3] = monitor.Value{Null: true}
		}
		if i%500 == 0 {
			r.Values = append(r.Values, monitor.Value{Raw: []byte("late")}) // a 13th column some rows have
		}
		rows[i] = r
	}
	single := monitor.NewProfiler(monitor.ProfilerOptions{})
	parts := []*monitor.Profiler{monitor.NewProfiler(monitor.ProfilerOptions{}), monitor.NewProfiler(monitor.ProfilerOptions{}), monitor.NewProfiler(monitor.ProfilerOptions{})}
	for i, r := range rows {
		single.Add(r)
		parts[min(i/(n/3+1), 2)].Add(r)
	}
	merged := parts[0]
	for _, o := range parts[1:] {
		if err := merged.Merge(o); err != nil {
			t.Fatal(err)
		}
	}
	if merged.Rows() != n {
		t.Errorf("Rows() = %d, want %d", merged.Rows(), n)
	}
	want, got := single.Profile(), merged.Profile()
	// Sketch contents differ between one pass and a merge; bucket counts may
	// differ within the sketch error, which is 0 below k items per level but
	// a few per cent of n in general.
	bucketType := reflect.TypeFor[monitor.KLLBucket]()
	isBucketCount := func(p cmp.Path) bool {
		return p.Last().String() == ".Count" && p.Index(-2).Type() == bucketType
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(monitor.KLLSketch{}, "Data"),
		cmp.FilterPath(isBucketCount, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 0.02*n })),
		cmp.FilterPath(func(p cmp.Path) bool { return !isBucketCount(p) }, cmp.Comparer(func(a, b float64) bool {
			return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
		})),
	}
	if diff := cmp.Diff(want.Statistics, got.Statistics, opts); diff != "" {
		t.Errorf("merged statistics differ from one pass (-single +merged):\n%s", diff)
	}
	for i := range want.Columns {
		w, g := want.Columns[i], got.Columns[i]
		if w.Sketch == nil {
			continue
		}
		if w.Sketch.Count() != w.Present || g.Sketch.Count() != g.Present {
			t.Errorf("column %s: sketch counts %d (single) and %d (merged), want %d", w.Name, w.Sketch.Count(), g.Sketch.Count(), w.Present)
		}
		for _, q := range []float64{0.1, 0.5, 0.9} {
			if r := math.Abs(w.Sketch.CDF(w.Sketch.Quantile(q)) - g.Sketch.CDF(w.Sketch.Quantile(q))); r > 0.02 {
				t.Errorf("column %s: CDF at q%.1f differs by %.3f", w.Name, q, r)
			}
		}
	}
}

func TestProfiler_MergeLayouts(t *testing.T) {
	t.Run("positional names disagree", func(t *testing.T) {
		a := monitor.NewProfiler(monitor.ProfilerOptions{Names: []string{"x", "y"}})
		b := monitor.NewProfiler(monitor.ProfilerOptions{Names: []string{"x", "z"}})
		a.Add(csvRow("1", "2"))
		b.Add(csvRow("1", "2"))
		if err := a.Merge(b); err == nil {
			t.Error("Merge succeeded, want an error naming column 1")
		}
	})
	t.Run("itself", func(t *testing.T) {
		a := monitor.NewProfiler(monitor.ProfilerOptions{})
		if err := a.Merge(a); err == nil {
			t.Error("Merge(self) succeeded")
		}
	})
	t.Run("named rows in another order", func(t *testing.T) {
		a, b, single := monitor.NewProfiler(monitor.ProfilerOptions{}), monitor.NewProfiler(monitor.ProfilerOptions{}), monitor.NewProfiler(monitor.ProfilerOptions{})
		ra, rb := named("x", "1", "y", "a"), named("z", "2.5", "y", "b", "x", "3")
		a.Add(ra)
		b.Add(rb)
		single.Add(ra)
		single.Add(rb)
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		opt := cmpopts.IgnoreFields(monitor.KLLSketch{}, "Data")
		if diff := cmp.Diff(single.Profile().Statistics, a.Profile().Statistics, opt); diff != "" {
			t.Errorf("(-single +merged):\n%s", diff)
		}
	})
}

// Profiling a warmed-up column must not allocate per row.
func TestProfiler_AddAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cells := make([][]byte, 70)
	row := &monitor.Row{Values: make([]monitor.Value, 70)}
	p := monitor.NewProfiler(monitor.ProfilerOptions{})
	rows := make([][]monitor.Value, 1024)
	for i := range rows {
		churnLikeRow(rng, cells)
		for _, c := range cells {
			rows[i] = append(rows[i], monitor.Value{Raw: []byte(string(c))})
		}
	}
	n := 0
	next := func() {
		row.Values = rows[n%len(rows)]
		n++
		p.Add(row)
	}
	for range 200_000 {
		next()
	}
	if a := testing.AllocsPerRun(2000, next); a > 0.01 {
		t.Errorf("Add allocates %.3f times per row, want 0", a)
	}
	nrow := &monitor.Row{Names: make([]string, 70), Values: row.Values}
	for i := range nrow.Names {
		nrow.Names[i] = "f" + strconv.Itoa(i)
	}
	np := monitor.NewProfiler(monitor.ProfilerOptions{})
	for range 50_000 {
		np.Add(nrow)
	}
	if a := testing.AllocsPerRun(2000, func() { np.Add(nrow) }); a > 0.01 {
		t.Errorf("Add of named rows allocates %.3f times per row, want 0", a)
	}
}

func BenchmarkProfilerAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	// A small pool of rows, so that the benchmark measures the profiler and
	// not cache misses on row data: a reader reuses one hot row buffer.
	const nrows = 64
	rows := make([]*monitor.Row, nrows)
	for i := range rows {
		cells := make([][]byte, 70)
		churnLikeRow(rng, cells)
		r := &monitor.Row{Values: make([]monitor.Value, 70)}
		for j, c := range cells {
			r.Values[j] = monitor.Value{Raw: c}
		}
		rows[i] = r
	}
	p := monitor.NewProfiler(monitor.ProfilerOptions{})
	for i := range 100_000 {
		p.Add(rows[i%nrows])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p.Add(rows[i%nrows])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/70, "ns/value")
}
