package monitor

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/glassbox-dev/glassbox/internal/stats"
)

// This file holds SageMaker's data-quality checks: it compares the profile
// of a monitoring window with a baseline (statistics.json and
// constraints.json) and lists the violations as constraint_violations.json
// does. The rules, per constraint_check_type:
//
//   - missing_column_check: a baseline feature has no column in the window
//     (no row had it at all). The feature's other checks are skipped.
//   - extra_column_check: a column of the window is not a baseline feature.
//   - data_type_check: of the window's non-null values, the share whose type
//     matches the baseline's inferred_type is below datatype_check_threshold.
//     Integral values match Fractional; strings match only String (Deequ
//     classifies "1" as Integral, not String). Unknown types are not checked.
//   - completeness_check: the window's non-null fraction is below the
//     feature's completeness constraint (the baseline's own non-null
//     fraction, as SageMaker suggests it). SageMaker compares the two as they
//     are, without tolerance, so a baseline completeness of 1.0 fails on a
//     single null.
//   - categorical_values_check: for a String feature with
//     string_constraints.domains, the share of the window's non-null values
//     that are in the domain is below domain_content_threshold (Deequ's
//     isContainedIn with threshold). Nulls do not count. When the profile
//     stopped tracking categories (too many distinct values) the untracked
//     values count as outside the domain.
//   - baseline_drift_check: numeric features compare KLL sketches with the
//     L-infinity distance (the two-sample KS statistic); with
//     comparison_method Robust the KS critical value is subtracted. A
//     violation when the distance exceeds comparison_threshold. String
//     features use categorical_drift_method: LInfinity (largest difference
//     of category frequencies, made robust the same way) above
//     categorical_comparison_threshold, or ChiSquared, a violation when the
//     goodness-of-fit p-value is below categorical_comparison_threshold (how
//     SageMaker reads that threshold is undocumented; a small p-value is
//     what signals a changed distribution).
//
// monitoring_config and each feature's monitoringConfigOverrides are layered
// with Resolve. evaluate_constraints Disabled turns off every check except
// baseline_drift_check, which perform_comparison controls.
// num_constraints.is_non_negative has no check type in SageMaker's list and
// is not checked.

// CheckOptions tune Check beyond what constraints.json says.
type CheckOptions struct {
	Drift DriftOptions
}

// feature joins one baseline feature with the window's column of the same
// name.
type feature struct {
	name     string
	typ      string // the baseline's inferred type
	stats    *FeatureStatistics
	cons     *FeatureConstraints
	cur      *ColumnProfile     // nil: absent from the window
	curStats *FeatureStatistics // the window's statistics, for the mean

	// Decoded lazily from stats.
	sketch     *stats.KLL
	categories map[string]float64
}

func (f *feature) numeric() bool { return f.typ == TypeIntegral || f.typ == TypeFractional }

// baseSketch returns the baseline's KLL sketch, nil when it has none.
func (f *feature) baseSketch() (*stats.KLL, error) {
	if f.sketch != nil || f.stats == nil || f.stats.NumericalStatistics == nil {
		return f.sketch, nil
	}
	d := f.stats.NumericalStatistics.Distribution.KLL
	if d == nil {
		return nil, nil
	}
	k, c := int(d.Sketch.Parameters.K), d.Sketch.Parameters.C
	if k == 0 && c == 0 {
		k, c = stats.DefaultKLLK, stats.DefaultKLLC
	}
	s, err := stats.KLLFromLevels(k, c, d.Sketch.Data)
	if err != nil {
		return nil, fmt.Errorf("baseline feature %q: %w", f.name, err)
	}
	f.sketch = s
	return s, nil
}

// baseCategories returns the baseline's category counts, nil when it has
// none.
func (f *feature) baseCategories() map[string]float64 {
	if f.categories != nil || f.stats == nil || f.stats.StringStatistics == nil || f.stats.StringStatistics.Distribution.Categorical == nil {
		return f.categories
	}
	m := map[string]float64{}
	for _, b := range f.stats.StringStatistics.Distribution.Categorical.Buckets {
		m[b.Value] += b.Count
	}
	f.categories = m
	return m
}

// joinFeatures lists the baseline's features in statistics.json order, then
// features only constraints.json names, each with the window's column.
func joinFeatures(base *Statistics, cons *Constraints, cur *Profile) ([]*feature, map[string]bool) {
	var out []*feature
	byName := map[string]*feature{}
	add := func(name string) *feature {
		if f, ok := byName[name]; ok {
			return f
		}
		f := &feature{name: name}
		byName[name] = f
		out = append(out, f)
		return f
	}
	if base != nil {
		for i := range base.Features {
			fs := &base.Features[i]
			f := add(fs.Name)
			f.stats, f.typ = fs, fs.InferredType
		}
	}
	if cons != nil {
		for i := range cons.Features {
			fc := &cons.Features[i]
			f := add(fc.Name)
			f.cons = fc
			if fc.InferredType != "" {
				f.typ = fc.InferredType
			}
		}
	}
	for i := range cur.Columns {
		if f, ok := byName[cur.Columns[i].Name]; ok {
			f.cur = &cur.Columns[i]
		}
	}
	for i := range cur.Statistics.Features {
		if f, ok := byName[cur.Statistics.Features[i].Name]; ok {
			f.curStats = &cur.Statistics.Features[i]
		}
	}
	names := make(map[string]bool, len(byName))
	for n := range byName {
		names[n] = true
	}
	return out, names
}

// Check compares a window's profile with the baseline and returns
// SageMaker's violations (in baseline feature order, then extra columns in
// window order) and Glassbox's drift report. base may come from SageMaker,
// whose statistics.json is all that is known of its data: KLL levels and
// categorical buckets. cons may be nil: then SageMaker's default
// monitoring_config applies and only the checks that need no per-feature
// constraint run.
func Check(base *Statistics, cons *Constraints, cur *Profile, opts CheckOptions) (*Violations, *DriftReport, error) {
	if base == nil || cur == nil {
		return nil, nil, errors.New("check: baseline statistics and the window's profile are required")
	}
	if err := opts.Drift.validate(); err != nil {
		return nil, nil, fmt.Errorf("check: %w", err)
	}
	features, known := joinFeatures(base, cons, cur)
	var global *MonitoringConfig
	if cons != nil {
		global = cons.MonitoringConfig
	}
	v := &Violations{Violations: []Violation{}}
	add := func(f, check, desc string) {
		v.Violations = append(v.Violations, Violation{FeatureName: f, ConstraintCheckType: check, Description: desc})
	}
	rows := cur.Statistics.Dataset.ItemCount
	for _, f := range features {
		var override *MonitoringConfig
		if f.cons != nil {
			override = f.cons.MonitoringConfigOverrides
		}
		cfg := Resolve(global, override)
		if f.cur == nil {
			if cfg.EvaluateConstraints {
				add(f.name, CheckMissingColumn, fmt.Sprintf(
					"Missing column: baseline feature %q is absent from all %d rows of the window. Check that requests and responses still carry it (a renamed key or a shorter CSV row), or re-baseline if it was removed on purpose.",
					f.name, rows))
			}
			continue
		}
		if cfg.EvaluateConstraints {
			if d := dataTypeCheck(f, cfg); d != "" {
				add(f.name, CheckDataType, d)
			}
			if d := completenessCheck(f); d != "" {
				add(f.name, CheckCompleteness, d)
			}
			if d := categoricalValuesCheck(f, cfg); d != "" {
				add(f.name, CheckCategoricalValue, d)
			}
		}
		if cfg.PerformComparison {
			d, err := baselineDriftCheck(f, cfg)
			if err != nil {
				return nil, nil, fmt.Errorf("check: %w", err)
			}
			if d != "" {
				add(f.name, CheckBaselineDrift, d)
			}
		}
	}
	if Resolve(global).EvaluateConstraints {
		for _, c := range cur.Columns {
			if !known[c.Name] {
				add(c.Name, CheckExtraColumn, fmt.Sprintf(
					"Extra column: %q (%d non-null values in the window) is not a baseline feature, so it is not checked. Re-baseline if the model now uses it; otherwise stop sending it or ignore this.",
					c.Name, c.Present))
			}
		}
	}
	drift, err := computeDrift(features, opts.Drift)
	if err != nil {
		return nil, nil, fmt.Errorf("check: %w", err)
	}
	return v, drift, nil
}

// pct formats a fraction as a percentage with one decimal. Observed values
// are rounded down so that a value just below a threshold never prints
// equal to it (99.96% of 100% prints as 99.9%).
func pct(x float64, down bool) string {
	if down {
		return strconv.FormatFloat(math.Floor(x*1000+1e-6)/10, 'f', 1, 64)
	}
	return strconv.FormatFloat(x*100, 'f', 1, 64)
}

func dataTypeCheck(f *feature, cfg ResolvedConfig) string {
	c := f.cur
	if c.Present == 0 {
		return ""
	}
	var match int64
	switch f.typ {
	case TypeIntegral:
		match = c.Integral
	case TypeFractional:
		match = c.Integral + c.Fractional
	case TypeString:
		match = c.String
	default:
		return ""
	}
	ratio := float64(match) / float64(c.Present)
	if ratio >= cfg.DatatypeCheckThreshold {
		return ""
	}
	// The first two sentences are SageMaker's text, byte for byte.
	return fmt.Sprintf("Data type match requirement is not met. Expected data type: %s, Expected match: %s%%. Observed: Only %s%% of data is %s. "+
		"The %d non-null values are %d Integral, %d Fractional and %d String; fix the producer, or if the type changed on purpose update inferred_type in constraints.json.",
		f.typ, pct(cfg.DatatypeCheckThreshold, false), pct(ratio, true), f.typ,
		c.Present, c.Integral, c.Fractional, c.String)
}

func completenessCheck(f *feature) string {
	if f.cons == nil || f.cons.Completeness == nil {
		return ""
	}
	c := f.cur
	total := c.Present + c.Missing
	if total == 0 {
		return ""
	}
	want := *f.cons.Completeness
	got := float64(c.Present) / float64(total)
	if got >= want {
		return ""
	}
	return fmt.Sprintf("Completeness requirement is not met. Expected completeness: %s%%. Observed: only %s%% of values are non-null (%d of %d missing). "+
		"Find out why the producer sends nulls or omits the field; if it is optional now, lower completeness in constraints.json.",
		pct(want, false), pct(got, true), c.Missing, total)
}

func categoricalValuesCheck(f *feature, cfg ResolvedConfig) string {
	if f.typ != TypeString || f.cons == nil || f.cons.StringConstraints == nil || len(f.cons.StringConstraints.Domains) == 0 {
		return ""
	}
	c := f.cur
	domain := make(map[string]bool, len(f.cons.StringConstraints.Domains))
	for _, d := range f.cons.StringConstraints.Domains {
		domain[d] = true
	}
	var tracked, in int64
	type nv struct {
		v string
		n int64
	}
	var outside []nv
	for v, n := range c.Categories {
		tracked += n
		if domain[v] {
			in += n
		} else {
			outside = append(outside, nv{v, n})
		}
	}
	total := tracked
	if !c.CategoriesComplete && c.Present > tracked {
		total = c.Present
	}
	if total == 0 {
		return ""
	}
	share := float64(in) / float64(total)
	if share >= cfg.DomainContentThreshold {
		return ""
	}
	slices.SortFunc(outside, func(a, b nv) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.v, b.v)) })
	var top []string
	for _, o := range outside[:min(len(outside), 3)] {
		top = append(top, fmt.Sprintf("%q (%d)", o.v, o.n))
	}
	more := ""
	if total > tracked {
		more = fmt.Sprintf(" (%d values of categories no longer tracked count as outside)", total-tracked)
	}
	return fmt.Sprintf("Categorical values requirement is not met. Expected: at least %s%% of values in the baseline domain of %d values. Observed: %s%% of %d values are in it%s; most frequent new values: %s. "+
		"Add the new values to string_constraints.domains in constraints.json if they are valid, or fix the producer.",
		pct(cfg.DomainContentThreshold, false), len(domain), pct(share, true), total, more, strings.Join(top, ", "))
}

// fmtNum formats a statistic for a description: four significant digits.
func fmtNum(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

func baselineDriftCheck(f *feature, cfg ResolvedConfig) (string, error) {
	robust := cfg.ComparisonMethod == MethodRobust
	method := "Simple L-infinity"
	if robust {
		method = "Robust L-infinity"
	}
	c := f.cur
	switch {
	case f.numeric():
		bk, err := f.baseSketch()
		if err != nil {
			return "", err
		}
		if bk == nil || bk.Count() == 0 || c.Sketch == nil || c.Sketch.Count() == 0 {
			return "", nil
		}
		n, m := bk.Count(), c.Sketch.Count()
		dist := stats.LInfinityNumeric(bk, c.Sketch)
		if robust {
			dist = stats.RobustLInfinity(dist, n, m)
		}
		if !(dist > cfg.ComparisonThreshold) {
			return "", nil
		}
		moved := "Median moved"
		if f.stats.NumericalStatistics != nil && f.curStats != nil && f.curStats.NumericalStatistics != nil {
			moved = fmt.Sprintf("Mean moved from %s to %s; median", fmtNum(f.stats.NumericalStatistics.Mean), fmtNum(f.curStats.NumericalStatistics.Mean))
		}
		return fmt.Sprintf("Baseline drift distance %s exceeds threshold %s (%s). %s from %s to %s; p90 from %s to %s (baseline %d values, window %d). "+
			"Look for a change upstream of the model; if the new distribution is expected, re-baseline.",
			fmtNum(dist), fmtNum(cfg.ComparisonThreshold), method, moved,
			fmtNum(bk.Quantile(0.5)), fmtNum(c.Sketch.Quantile(0.5)), fmtNum(bk.Quantile(0.9)), fmtNum(c.Sketch.Quantile(0.9)), n, m), nil
	case f.typ == TypeString:
		base := f.baseCategories()
		if len(base) == 0 || len(c.Categories) == 0 {
			return "", nil
		}
		cur := make(map[string]float64, len(c.Categories))
		for k, v := range c.Categories {
			cur[k] = float64(v)
		}
		n, m := int64(math.Round(sum(base))), int64(math.Round(sum(cur)))
		changes := categoryChanges(base, cur, 3)
		if cfg.CategoricalDriftMethod == DriftChiSquared {
			_, p, df := stats.ChiSquareCategorical(base, cur)
			if math.IsNaN(p) || !(p < cfg.CategoricalComparisonThreshold) {
				return "", nil
			}
			return fmt.Sprintf("Baseline drift: chi-squared p-value %s is below threshold %s (%d degrees of freedom; baseline %d values, window %d). Largest changes in category frequency: %s. "+
				"Look for a change upstream of the model; if the new mix is expected, re-baseline.",
				fmtNum(p), fmtNum(cfg.CategoricalComparisonThreshold), df, n, m, changes), nil
		}
		dist := stats.LInfinityCategorical(proportions(base), proportions(cur))
		if robust {
			dist = stats.RobustLInfinity(dist, n, m)
		}
		if !(dist > cfg.CategoricalComparisonThreshold) {
			return "", nil
		}
		return fmt.Sprintf("Baseline drift distance %s exceeds threshold %s (%s over category frequencies; baseline %d values, window %d). Largest changes: %s. "+
			"Look for a change upstream of the model; if the new mix is expected, re-baseline.",
			fmtNum(dist), fmtNum(cfg.CategoricalComparisonThreshold), method, n, m, changes), nil
	}
	return "", nil
}

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

// proportions returns counts divided by their total.
func proportions(m map[string]float64) map[string]float64 {
	t := sum(m)
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if t > 0 {
			out[k] = v / t
		}
	}
	return out
}

// categoryChanges describes the n categories whose frequency changed most,
// e.g. `"DE" 58.3% → 20.0%`.
func categoryChanges(base, cur map[string]float64, n int) string {
	pb, pc := proportions(base), proportions(cur)
	keys := make([]string, 0, len(pb)+len(pc))
	for k := range pb {
		keys = append(keys, k)
	}
	for k := range pc {
		if _, ok := pb[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(math.Abs(pc[b]-pb[b]), math.Abs(pc[a]-pb[a])), cmp.Compare(a, b))
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%q %s%% → %s%%", k, pct(pb[k], false), pct(pc[k], false)))
	}
	return strings.Join(parts, ", ")
}
