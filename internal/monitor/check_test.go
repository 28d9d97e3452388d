package monitor_test

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// mustProfile profiles rows of named columns. A value is a float64 or int
// (a number), a string (a quoted string) or nil (null).
func mustProfileValues(tb testing.TB, names []string, rows [][]any) *monitor.Profile {
	tb.Helper()
	p := monitor.NewProfiler(monitor.ProfilerOptions{Names: names})
	for _, r := range rows {
		row := &monitor.Row{}
		for _, v := range r {
			switch v := v.(type) {
			case nil:
				row.Values = append(row.Values, monitor.Value{Null: true})
			case string:
				row.Values = append(row.Values, monitor.Value{Raw: []byte(v), Quoted: true})
			case int:
				row.Values = append(row.Values, monitor.Value{Raw: []byte(strconv.Itoa(v))})
			case float64:
				row.Values = append(row.Values, monitor.Value{Raw: strconv.AppendFloat(nil, v, 'f', -1, 64)})
			default:
				tb.Fatalf("mustProfile: unsupported value %T", v)
			}
		}
		p.Add(row)
	}
	return p.Profile()
}

// column returns n rows of one column drawn by gen.
func genColumn(n int, seed uint64, gen func(r *rand.Rand) any) [][]any {
	r := rand.New(rand.NewPCG(seed, 1))
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{gen(r)}
	}
	return rows
}

func genNormal(mean, sd float64) func(*rand.Rand) any {
	return func(r *rand.Rand) any { return mean + sd*r.NormFloat64() }
}

// pick draws from values with the given weights.
func genPick(values []string, weights []float64) func(*rand.Rand) any {
	return func(r *rand.Rand) any {
		x := r.Float64()
		for i, w := range weights {
			if x < w {
				return values[i]
			}
			x -= w
		}
		return values[len(values)-1]
	}
}

// zip joins single-column row sets into rows of several columns.
func zipColumns(cols ...[][]any) [][]any {
	out := make([][]any, len(cols[0]))
	for i := range out {
		for _, c := range cols {
			out[i] = append(out[i], c[i][0])
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

func checkViolations(t *testing.T, base *monitor.Profile, cons *monitor.Constraints, cur *monitor.Profile) []monitor.Violation {
	t.Helper()
	v, _, err := monitor.Check(&base.Statistics, cons, cur, monitor.CheckOptions{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return v.Violations
}

func findViolation(vs []monitor.Violation, feature, check string) *monitor.Violation {
	for i := range vs {
		if vs[i].FeatureName == feature && vs[i].ConstraintCheckType == check {
			return &vs[i]
		}
	}
	return nil
}

func TestCheck_DataType(t *testing.T) {
	t.Parallel()
	names := []string{"amount"}
	base := mustProfileValues(t, names, genColumn(100, 1, genNormal(10, 2)))
	cons := &monitor.Constraints{Features: []monitor.FeatureConstraints{{Name: "amount", InferredType: monitor.TypeFractional}}}
	rows := genColumn(40, 2, genNormal(10, 2))
	rows[0][0] = 7 // Integral matches Fractional
	rows[1][0] = "oops"
	vs := checkViolations(t, base, cons, mustProfileValues(t, names, rows))
	v := findViolation(vs, "amount", monitor.CheckDataType)
	if v == nil {
		t.Fatalf("no data_type_check in %+v", vs)
	}
	const want = "Data type match requirement is not met. Expected data type: Fractional, Expected match: 100.0%. Observed: Only 97.5% of data is Fractional."
	if !strings.HasPrefix(v.Description, want) {
		t.Errorf("description = %q, want prefix %q", v.Description, want)
	}
	if !strings.Contains(v.Description, "1 Integral, 38 Fractional and 1 String") {
		t.Errorf("description lacks the type counts: %q", v.Description)
	}

	// A lower threshold accepts it.
	cons.MonitoringConfig = &monitor.MonitoringConfig{DatatypeCheckThreshold: ptrTo(0.9)}
	if v := findViolation(checkViolations(t, base, cons, mustProfileValues(t, names, rows)), "amount", monitor.CheckDataType); v != nil {
		t.Errorf("threshold 0.9: unexpected %q", v.Description)
	}
}

func TestCheck_CompletenessAndColumns(t *testing.T) {
	t.Parallel()
	base := mustProfileValues(t, []string{"a", "b"}, zipColumns(genColumn(50, 1, genNormal(0, 1)), genColumn(50, 2, genNormal(0, 1))))
	cons := &monitor.Constraints{Features: []monitor.FeatureConstraints{
		{Name: "a", InferredType: monitor.TypeFractional, Completeness: ptrTo(1.0)},
		{Name: "b", InferredType: monitor.TypeFractional, Completeness: ptrTo(1.0)},
	}}
	rows := zipColumns(genColumn(20, 3, genNormal(0, 1)), genColumn(20, 4, genNormal(0, 1)))
	rows[3][0] = nil
	cur := mustProfileValues(t, []string{"a", "z"}, rows) // b missing, z extra
	vs := checkViolations(t, base, cons, cur)
	var got []string
	for _, v := range vs {
		got = append(got, v.FeatureName+":"+v.ConstraintCheckType)
	}
	want := "a:completeness_check b:missing_column_check z:extra_column_check"
	if strings.Join(got, " ") != want {
		t.Fatalf("violations = %q, want %q", got, want)
	}
	if d := vs[0].Description; !strings.Contains(d, "Expected completeness: 100.0%") || !strings.Contains(d, "only 95.0% of values are non-null (1 of 20 missing)") {
		t.Errorf("completeness description = %q", d)
	}
	if d := vs[1].Description; !strings.Contains(d, `"b" is absent from all 20 rows`) {
		t.Errorf("missing column description = %q", d)
	}

	// evaluate_constraints Disabled silences all three.
	cons.MonitoringConfig = &monitor.MonitoringConfig{EvaluateConstraints: monitor.Disabled}
	if vs := checkViolations(t, base, cons, cur); len(vs) != 0 {
		t.Errorf("evaluate_constraints Disabled: got %+v", vs)
	}
}

func TestCheck_CategoricalValues(t *testing.T) {
	t.Parallel()
	names := []string{"country"}
	gen := genPick([]string{"DE", "FR", "IT"}, []float64{0.5, 0.4, 0.1})
	base := mustProfileValues(t, names, genColumn(500, 1, genPick([]string{"DE", "FR"}, []float64{0.5, 0.5})))
	cons := &monitor.Constraints{Features: []monitor.FeatureConstraints{{
		Name: "country", InferredType: monitor.TypeString,
		StringConstraints: &monitor.StringConstraints{Domains: []string{"DE", "FR"}},
	}}}
	cur := mustProfileValues(t, names, genColumn(500, 2, gen))
	v := findViolation(checkViolations(t, base, cons, cur), "country", monitor.CheckCategoricalValue)
	if v == nil {
		t.Fatal("no categorical_values_check")
	}
	if !strings.Contains(v.Description, `most frequent new values: "IT"`) || !strings.Contains(v.Description, "at least 100.0%") {
		t.Errorf("description = %q", v.Description)
	}
	cons.MonitoringConfig = &monitor.MonitoringConfig{DomainContentThreshold: ptrTo(0.8)}
	if v := findViolation(checkViolations(t, base, cons, cur), "country", monitor.CheckCategoricalValue); v != nil {
		t.Errorf("domain_content_threshold 0.8: unexpected %q", v.Description)
	}
}

func TestCheck_BaselineDrift(t *testing.T) {
	t.Parallel()
	names := []string{"x", "country"}
	base := mustProfileValues(t, names, zipColumns(genColumn(2000, 1, genNormal(10, 2)), genColumn(2000, 2, genPick([]string{"DE", "FR"}, []float64{0.6, 0.4}))))
	same := mustProfileValues(t, names, zipColumns(genColumn(500, 3, genNormal(10, 2)), genColumn(500, 4, genPick([]string{"DE", "FR"}, []float64{0.6, 0.4}))))
	moved := mustProfileValues(t, names, zipColumns(genColumn(500, 5, genNormal(13, 2)), genColumn(500, 6, genPick([]string{"DE", "FR"}, []float64{0.2, 0.8}))))
	cons := &monitor.Constraints{MonitoringConfig: monitor.DefaultMonitoringConfig()}

	if vs := checkViolations(t, base, cons, same); len(vs) != 0 {
		t.Errorf("same distribution: %+v", vs)
	}
	vs := checkViolations(t, base, cons, moved)
	x := findViolation(vs, "x", monitor.CheckBaselineDrift)
	if x == nil || !strings.Contains(x.Description, "exceeds threshold 0.1 (Robust L-infinity). Mean moved from 9.9") || !strings.Contains(x.Description, "; median from 9.9") || !strings.Contains(x.Description, "p90 from") {
		t.Errorf("numeric drift violation = %+v", x)
	}
	c := findViolation(vs, "country", monitor.CheckBaselineDrift)
	if c == nil || !strings.Contains(c.Description, `Largest changes: "DE" 60`) {
		t.Errorf("categorical drift violation = %+v", c)
	}

	// ChiSquared reports a p-value.
	cons.MonitoringConfig.DistributionConstraints.CategoricalDriftMethod = monitor.DriftChiSquared
	c = findViolation(checkViolations(t, base, cons, moved), "country", monitor.CheckBaselineDrift)
	if c == nil || !strings.Contains(c.Description, "chi-squared p-value") {
		t.Errorf("chi-squared violation = %+v", c)
	}

	// A per-feature override raises the threshold for x only.
	cons.Features = []monitor.FeatureConstraints{{Name: "x", InferredType: monitor.TypeFractional, MonitoringConfigOverrides: &monitor.MonitoringConfig{
		DistributionConstraints: &monitor.DistributionConstraints{ComparisonThreshold: ptrTo(0.99)},
	}}}
	vs = checkViolations(t, base, cons, moved)
	if findViolation(vs, "x", monitor.CheckBaselineDrift) != nil || findViolation(vs, "country", monitor.CheckBaselineDrift) == nil {
		t.Errorf("override: %+v", vs)
	}

	// perform_comparison Disabled turns drift checks off.
	cons.MonitoringConfig.DistributionConstraints.PerformComparison = monitor.Disabled
	if vs := checkViolations(t, base, cons, moved); len(vs) != 0 {
		t.Errorf("perform_comparison Disabled: %+v", vs)
	}
}

func TestCheck_RobustIgnoresSmallSamples(t *testing.T) {
	t.Parallel()
	names := []string{"x"}
	base := mustProfileValues(t, names, genColumn(200, 1, genNormal(10, 2)))
	cur := mustProfileValues(t, names, genColumn(15, 2, genNormal(10.8, 2)))
	cons := &monitor.Constraints{MonitoringConfig: monitor.DefaultMonitoringConfig()}
	if vs := checkViolations(t, base, cons, cur); len(vs) != 0 {
		t.Errorf("Robust: %+v", vs)
	}
	cons.MonitoringConfig.DistributionConstraints.ComparisonMethod = monitor.MethodSimple
	v := findViolation(checkViolations(t, base, cons, cur), "x", monitor.CheckBaselineDrift)
	if v == nil || !strings.Contains(v.Description, "(Simple L-infinity)") {
		t.Errorf("Simple: %+v", v)
	}
}

// sageMakerStatisticsJSON is a statistics.json as SageMaker writes it: only the
// KLL levels and categorical buckets describe the data.
const sageMakerStatisticsJSON = `{
  "version": 0.0,
  "dataset": {"item_count": 8},
  "features": [
    {"name": "amount", "inferred_type": "Fractional",
     "numerical_statistics": {"common": {"num_present": 8, "num_missing": 0},
       "mean": 4.5, "sum": 36.0, "std_dev": 2.29, "min": 1.0, "max": 8.0,
       "distribution": {"kll": {"buckets": [{"lower_bound": 1.0, "upper_bound": 8.0, "count": 8.0}],
         "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0]]}}}}},
    {"name": "country", "inferred_type": "String",
     "string_statistics": {"common": {"num_present": 8, "num_missing": 0}, "distinct_count": 2.0,
       "distribution": {"categorical": {"buckets": [{"value": "DE", "count": 4}, {"value": "FR", "count": 4}]}}}}
  ]
}`

func TestCheck_SageMakerBaseline(t *testing.T) {
	t.Parallel()
	var base monitor.Statistics
	if err := json.Unmarshal([]byte(sageMakerStatisticsJSON), &base); err != nil {
		t.Fatal(err)
	}
	cons := &monitor.Constraints{MonitoringConfig: &monitor.MonitoringConfig{DistributionConstraints: &monitor.DistributionConstraints{ComparisonMethod: monitor.MethodSimple}}}
	cur := mustProfileValues(t, []string{"amount", "country"}, zipColumns(genColumn(50, 1, genNormal(100, 1)), genColumn(50, 2, genPick([]string{"IT"}, []float64{1}))))
	v, drift, err := monitor.Check(&base, cons, cur, monitor.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if findViolation(v.Violations, "amount", monitor.CheckBaselineDrift) == nil || findViolation(v.Violations, "country", monitor.CheckBaselineDrift) == nil {
		t.Errorf("violations = %+v", v.Violations)
	}
	if drift.TotalFeatures != 2 || drift.Features[0].BaselineCount != 8 {
		t.Errorf("drift = %+v", drift)
	}

	base.Features[0].NumericalStatistics.Distribution.KLL.Sketch.Parameters.C = 7
	if _, _, err := monitor.Check(&base, cons, cur, monitor.CheckOptions{}); err == nil || !strings.Contains(err.Error(), `baseline feature "amount"`) {
		t.Errorf("corrupt sketch: err = %v", err)
	}
}
