package monitor_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/stats"
)

func openFixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/sagemaker/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// The fixtures are shaped as SageMaker's analyzer writes them (4-space
// indentation, "version": 0.0, k as 2048.0, empty monitoringConfigOverrides).
func TestReadStatistics_SageMakerFixture(t *testing.T) {
	st, err := monitor.ReadStatistics(openFixture(t, monitor.StatisticsFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Dataset.ItemCount != 40 || len(st.Features) != 5 {
		t.Fatalf("item_count %d, %d features; want 40 and 5", st.Dataset.ItemCount, len(st.Features))
	}
	for _, f := range st.Features {
		ns := f.NumericalStatistics
		if ns == nil {
			if f.StringStatistics == nil || f.StringStatistics.Distribution.Categorical == nil {
				t.Errorf("%s: no categorical distribution", f.Name)
			}
			continue
		}
		sk, err := ns.Distribution.KLL.Sketch.KLL()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		var implied int64
		for h, lv := range ns.Distribution.KLL.Sketch.Data {
			implied += int64(len(lv)) << h
		}
		if sk.Count() != implied || implied != ns.Common.NumPresent {
			t.Errorf("%s: sketch count %d, levels imply %d, num_present %d", f.Name, sk.Count(), implied, ns.Common.NumPresent)
		}
		if k, c := sk.Params(); k != 2048 || c != 0.64 {
			t.Errorf("%s: parameters k=%d c=%v, want 2048 and 0.64", f.Name, k, c)
		}
		// The file's buckets are exact for a level-0 sketch; ours must agree.
		got := stats.EqualWidthBuckets(sk, ns.Min, ns.Max, 10)
		for i, b := range ns.Distribution.KLL.Buckets {
			if got[i].Count != b.Count {
				t.Errorf("%s: bucket %d holds %v in the file, %v from the sketch", f.Name, i, b.Count, got[i].Count)
			}
		}
	}
}

func TestKLLSketch_KLLWeighsLevels(t *testing.T) {
	s := monitor.KLLSketch{
		Parameters: monitor.KLLParameters{C: 0.64, K: 2048},
		Data:       [][]float64{{5, 1}, {2, 9, 4}, {}, {7}},
	}
	sk, err := s.KLL()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sk.Count(), int64(2+3*2+0+1*8); got != want {
		t.Errorf("Count() = %d, want %d", got, want)
	}
	if got := sk.Rank(4); got != 1+2+2 { // 1 at level 0, 2 and 4 at level 1
		t.Errorf("Rank(4) = %d, want 5", got)
	}
}

func TestReadConstraints_SageMakerFixture(t *testing.T) {
	c, err := monitor.ReadConstraints(openFixture(t, monitor.ConstraintsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Features) != 5 || c.Features[4].StringConstraints == nil {
		t.Fatalf("features = %+v", c.Features)
	}
	if diff := cmp.Diff([]string{"no", "yes"}, c.Features[4].StringConstraints.Domains); diff != "" {
		t.Errorf("intl_plan domains (-want +got):\n%s", diff)
	}
	if o := c.Features[0].MonitoringConfigOverrides; o == nil || *o != (monitor.MonitoringConfig{}) {
		t.Errorf("monitoringConfigOverrides = %+v, want present and empty", o)
	}
	if got, want := monitor.Resolve(c.MonitoringConfig), monitor.Resolve(); got != want {
		t.Errorf("resolved config %+v, want SageMaker's defaults %+v", got, want)
	}
}

// Our own documents must read back unchanged.
func TestWriteJSON_RoundTrip(t *testing.T) {
	p := monitor.NewProfiler(monitor.ProfilerOptions{Names: []string{"n", "x", "s", "empty"}})
	for i := range 3000 {
		p.Add(csvRow(strings.Repeat("1", i%3+1), string(rune('0'+i%10))+".25", []string{"a", "b<c", "é"}[i%3], ""))
	}
	prof := p.Profile()

	var buf bytes.Buffer
	if err := monitor.WriteJSON(&buf, prof.Statistics); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "{\n  \"version\": 0,\n  \"dataset\"") || !strings.HasSuffix(buf.String(), "}\n") {
		t.Errorf("statistics.json starts %q and ends %q; want 2-space indentation and a final newline", buf.String()[:30], buf.String()[buf.Len()-3:])
	}
	if !strings.Contains(buf.String(), `"b<c"`) {
		t.Error(`"b<c" was escaped`)
	}
	st, err := monitor.ReadStatistics(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(prof.Statistics, *st); diff != "" {
		t.Errorf("statistics round trip (-wrote +read):\n%s", diff)
	}

	cons := monitor.SuggestConstraints(prof)
	buf.Reset()
	if err := monitor.WriteJSON(&buf, cons); err != nil {
		t.Fatal(err)
	}
	back, err := monitor.ReadConstraints(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cons, back); diff != "" {
		t.Errorf("constraints round trip (-wrote +read):\n%s", diff)
	}
}

func TestReadStatistics_Invalid(t *testing.T) {
	num := func(extra string) string {
		return `{"version": 0.0, "dataset": {"item_count": 1}, "features": [{"name": "a", "inferred_type": "Integral",
			"numerical_statistics": {"common": {"num_present": 1, "num_missing": 0}, "mean": 1, "sum": 1, "std_dev": 0, "min": 1, "max": 1,
			"distribution": {"kll": {"buckets": [], "sketch": ` + extra + `}}}}]}`
	}
	tests := []struct {
		name, doc, want string
	}{
		{"unnamed", `{"features": [{"inferred_type": "String", "string_statistics": {}}]}`, "features[0]: name is empty"},
		{"duplicate", `{"features": [{"name": "a", "inferred_type": "String", "string_statistics": {}}, {"name": "a", "inferred_type": "String", "string_statistics": {}}]}`,
			`feature "a": named twice (features[0] and features[1])`},
		{"unknown type", `{"features": [{"name": "a", "inferred_type": "Boolean"}]}`, `feature "a": inferred_type "Boolean" is not Integral, Fractional or String`},
		{"missing block", `{"features": [{"name": "a", "inferred_type": "Fractional"}]}`, `feature "a": inferred_type Fractional has no numerical_statistics`},
		{"k too small", num(`{"parameters": {"c": 0.64, "k": 1.0}, "data": [[1.0]]}`), `feature "a": kll sketch: parameter k must be a whole number of at least 2, got 1`},
		{"k fractional", num(`{"parameters": {"c": 0.64, "k": 20.5}, "data": [[1.0]]}`), `feature "a": kll sketch: parameter k`},
		{"c out of range", num(`{"parameters": {"c": 1.5, "k": 2048.0}, "data": [[1.0]]}`), `feature "a": kll sketch: load kll sketch: c must be in (0, 1]`},
		{"not json", `{"features": [`, "read statistics: unexpected EOF"},
		{"huge number", num(`{"parameters": {"c": 0.64, "k": 2048.0}, "data": [[1e999]]}`), "read statistics: json: cannot unmarshal number 1e999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := monitor.ReadStatistics(strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Unknown keys are fine.
	if _, err := monitor.ReadStatistics(strings.NewReader(`{"version": 0.0, "future": 1, "features": [{"name": "a", "inferred_type": "String", "string_statistics": {"x": 1}}]}`)); err != nil {
		t.Errorf("unknown keys rejected: %v", err)
	}
}

func TestReadConstraints_Invalid(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"duplicate", `{"features": [{"name": "a", "inferred_type": "Unknown"}, {"name": "a", "inferred_type": "String"}]}`, `feature "a": named twice`},
		{"type", `{"features": [{"name": "a", "inferred_type": "Text"}]}`, `feature "a": inferred_type "Text" is not Integral, Fractional, String or Unknown`},
		{"completeness", `{"features": [{"name": "a", "inferred_type": "String", "completeness": 1.5}]}`, `feature "a": completeness 1.5 is not in [0, 1]`},
		{"override enum", `{"features": [{"name": "a", "inferred_type": "String", "monitoringConfigOverrides": {"distribution_constraints": {"comparison_method": "Fancy"}}}]}`,
			`feature "a": monitoringConfigOverrides: distribution_constraints.comparison_method is "Fancy"`},
		{"threshold", `{"features": [], "monitoring_config": {"datatype_check_threshold": -0.1}}`, "monitoring_config: datatype_check_threshold is -0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := monitor.ReadConstraints(strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
