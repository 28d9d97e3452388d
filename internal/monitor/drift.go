package monitor

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/glassbox-dev/glassbox/internal/stats"
)

// This file holds Glassbox's own drift tests, reported in drift_report.json
// beside SageMaker's baseline_drift_check. Each baseline feature the window
// also has gets one statistical test.
//
// The default test follows Evidently's published defaults for tabular data,
// which pick by feature type and by sample size. Evidently looks at the size
// of the reference data only; Glassbox looks at the smaller of the baseline
// and the window, because a monitoring window can be far smaller than the
// training set, and a distance measure over a few dozen values is mostly
// noise, while the two tests account for both sample sizes in their
// p-values. "At most 1000" below means: baseline or window has at most 1000
// values.
//
//   - A feature is categorical when the baseline types it String, or when it
//     is numeric with at most 5 distinct values in the baseline sketch; else
//     numerical.
//   - Numerical, baseline of at most 1000 values: "ks", the two-sample
//     Kolmogorov-Smirnov test; drift when the p-value < 0.05.
//   - Numerical, more than 1000: "wasserstein", the Wasserstein (earth
//     mover's) distance divided by the baseline's standard deviation; drift
//     when >= 0.1.
//   - Categorical, at most 1000: "chisquare", the chi-squared goodness-of-fit
//     test of the window's counts against the baseline's frequencies; drift
//     when the p-value < 0.05.
//   - Categorical, more than 1000: "jensenshannon", the Jensen-Shannon
//     distance of the two frequency vectors; drift when >= 0.1.
//
// "psi" (population stability index, drift when >= 0.1) is never a default.
// A per-feature DriftTest may choose any method. Numerical data are binned
// for the methods that need frequencies (psi, jensenshannon, chisquare) into
// 10 bins at the baseline's deciles; "ks" and "wasserstein" need numbers and
// are refused for String features.
//
// The data set drifts when the share of drifted features among those tested
// reaches DriftOptions.ShareThreshold (default 0.5).

// Drift methods of DriftTest.
const (
	DriftMethodKS            = "ks"
	DriftMethodChiSquare     = "chisquare"
	DriftMethodPSI           = "psi"
	DriftMethodJensenShannon = "jensenshannon"
	DriftMethodWasserstein   = "wasserstein"
)

// Defaults of the drift tests.
const (
	// DefaultShareThreshold is the default DriftOptions.ShareThreshold.
	DefaultShareThreshold = 0.5
	// driftSmallSample is the largest baseline that gets the small-sample
	// tests (ks, chisquare).
	driftSmallSample = 1000
	// maxCategoricalNumeric is the most distinct baseline values a numeric
	// feature may have and still be treated as categorical.
	maxCategoricalNumeric = 5
	// driftBins is the number of baseline-quantile bins for numeric data.
	driftBins = 10
)

// defaultDriftThreshold is each method's default threshold: a p-value
// limit for ks and chisquare, a distance limit for the others.
var defaultDriftThreshold = map[string]float64{
	DriftMethodKS:            0.05,
	DriftMethodChiSquare:     0.05,
	DriftMethodPSI:           0.1,
	DriftMethodJensenShannon: 0.1,
	DriftMethodWasserstein:   0.1,
}

// usesPValue reports whether a method's threshold is a p-value (drift when
// below) rather than a distance (drift when at or above).
func usesPValue(method string) bool { return method == DriftMethodKS || method == DriftMethodChiSquare }

// DriftTest chooses the test of one feature.
type DriftTest struct {
	// Method is one of ks, chisquare, psi, jensenshannon, wasserstein; ""
	// keeps the default choice.
	Method string
	// Threshold 0 means the method's default: 0.05 for the p-value of ks
	// and chisquare, 0.1 for the distances.
	Threshold float64
}

// DriftOptions tune the drift report.
type DriftOptions struct {
	// Features overrides the test per feature name. Names that are not
	// baseline features are ignored.
	Features map[string]DriftTest
	// ShareThreshold: the data set drifts when the share of drifted features
	// is at least this. 0 means DefaultShareThreshold.
	ShareThreshold float64
}

func (o DriftOptions) validate() error {
	for name, t := range o.Features {
		if _, ok := defaultDriftThreshold[t.Method]; !ok && t.Method != "" {
			return fmt.Errorf("drift test of feature %q: unknown method %q (want ks, chisquare, psi, jensenshannon or wasserstein)", name, t.Method)
		}
		if t.Threshold < 0 || math.IsNaN(t.Threshold) {
			return fmt.Errorf("drift test of feature %q: threshold %v is negative", name, t.Threshold)
		}
	}
	if o.ShareThreshold < 0 || o.ShareThreshold > 1 || math.IsNaN(o.ShareThreshold) {
		return fmt.Errorf("drift share threshold %v is not between 0 and 1", o.ShareThreshold)
	}
	return nil
}

// DriftReport is drift_report.json: one test per feature and the data-set
// verdict.
type DriftReport struct {
	Features        []FeatureDrift `json:"features"`
	DriftedFeatures int            `json:"drifted_features"`
	TotalFeatures   int            `json:"total_features"`
	Share           float64        `json:"share"`
	ShareThreshold  float64        `json:"share_threshold"`
	DatasetDrift    bool           `json:"dataset_drift"`
}

// Feature types of FeatureDrift.
const (
	DriftTypeNumerical   = "numerical"
	DriftTypeCategorical = "categorical"
)

// FeatureDrift is the drift test of one feature.
type FeatureDrift struct {
	Name string `json:"name"`
	// Type is "numerical" or "categorical" (see the rule above).
	Type   string `json:"type"`
	Method string `json:"method"`
	// Statistic is the KS statistic for ks, the chi-squared statistic for
	// chisquare, else the distance or index.
	Statistic float64 `json:"statistic"`
	// PValue is set for ks and chisquare.
	PValue *float64 `json:"p_value,omitempty"`
	// Threshold is compared with PValue for ks and chisquare, with
	// Statistic otherwise.
	Threshold     float64 `json:"threshold"`
	Drifted       bool    `json:"drifted"`
	BaselineCount int64   `json:"baseline_count"`
	CurrentCount  int64   `json:"current_count"`
	// Note explains a test that could not decide (for example a chi-squared
	// test with a single category); such a feature is not drifted.
	Note string `json:"note,omitempty"`
}

// computeDrift tests every feature that both the baseline and the window
// have data for.
func computeDrift(features []*feature, opts DriftOptions) (*DriftReport, error) {
	r := &DriftReport{Features: []FeatureDrift{}, ShareThreshold: opts.ShareThreshold}
	if r.ShareThreshold == 0 {
		r.ShareThreshold = DefaultShareThreshold
	}
	for _, f := range features {
		fd, ok, err := driftOf(f, opts.Features[f.name])
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		r.Features = append(r.Features, fd)
		r.TotalFeatures++
		if fd.Drifted {
			r.DriftedFeatures++
		}
	}
	if r.TotalFeatures > 0 {
		r.Share = float64(r.DriftedFeatures) / float64(r.TotalFeatures)
		r.DatasetDrift = r.Share >= r.ShareThreshold
	}
	return r, nil
}

// driftData is one feature's data on both sides, as sketches (numeric) and
// as category counts (categorical).
type driftData struct {
	baseK, curK *stats.KLL
	baseC, curC map[string]float64
	baseStd     float64
	numeric     bool // sketches are set
	categorical bool // the feature counts as categorical
	baseN, curN int64
}

func driftOf(f *feature, t DriftTest) (FeatureDrift, bool, error) {
	if f.cur == nil || f.stats == nil {
		return FeatureDrift{}, false, nil
	}
	var d driftData
	switch {
	case f.stats.NumericalStatistics != nil:
		bk, err := f.baseSketch()
		if err != nil {
			return FeatureDrift{}, false, err
		}
		if bk == nil || bk.Count() == 0 || f.cur.Sketch == nil || f.cur.Sketch.Count() == 0 {
			return FeatureDrift{}, false, nil
		}
		d.numeric, d.baseK, d.curK = true, bk, f.cur.Sketch
		d.baseStd = f.stats.NumericalStatistics.StdDev
		d.baseN, d.curN = bk.Count(), f.cur.Sketch.Count()
		d.baseC = sketchCategories(bk, maxCategoricalNumeric)
		if d.baseC != nil {
			d.categorical = true
			d.curC = sketchCategories(d.curK, -1)
		}
	case f.stats.StringStatistics != nil:
		base := f.baseCategories()
		if len(base) == 0 || len(f.cur.Categories) == 0 {
			return FeatureDrift{}, false, nil
		}
		d.categorical, d.baseC = true, base
		d.curC = make(map[string]float64, len(f.cur.Categories))
		for k, v := range f.cur.Categories {
			d.curC[k] = float64(v)
		}
		d.baseN, d.curN = int64(math.Round(sum(d.baseC))), int64(math.Round(sum(d.curC)))
	default:
		return FeatureDrift{}, false, nil
	}

	fd := FeatureDrift{Name: f.name, Type: DriftTypeNumerical, Method: t.Method, Threshold: t.Threshold, BaselineCount: d.baseN, CurrentCount: d.curN}
	if d.categorical {
		fd.Type = DriftTypeCategorical
	}
	if fd.Method == "" {
		small := min(d.baseN, d.curN) <= driftSmallSample
		switch {
		case d.categorical && small:
			fd.Method = DriftMethodChiSquare
		case d.categorical:
			fd.Method = DriftMethodJensenShannon
		case small:
			fd.Method = DriftMethodKS
		default:
			fd.Method = DriftMethodWasserstein
		}
	}
	if fd.Threshold == 0 {
		fd.Threshold = defaultDriftThreshold[fd.Method]
	}
	if !d.numeric && (fd.Method == DriftMethodKS || fd.Method == DriftMethodWasserstein) {
		return FeatureDrift{}, false, fmt.Errorf("drift test of feature %q: method %s needs a numeric feature, and the baseline types it String", f.name, fd.Method)
	}

	var stat, p float64
	hasP := usesPValue(fd.Method)
	switch fd.Method {
	case DriftMethodKS:
		stat = stats.LInfinityNumeric(d.baseK, d.curK)
		p = stats.KSPValue(stat, d.baseN, d.curN)
	case DriftMethodWasserstein:
		stat = stats.WassersteinNormalized(d.baseK, d.curK, d.baseStd)
	default:
		base, cur := d.baseC, d.curC
		if !d.categorical {
			base, cur = binnedCategories(d.baseK, d.curK)
		}
		switch fd.Method {
		case DriftMethodChiSquare:
			stat, p, _ = stats.ChiSquareCategorical(base, cur)
		case DriftMethodPSI:
			e, a := alignCategories(base, cur)
			stat = stats.PSI(e, a)
		case DriftMethodJensenShannon:
			e, a := alignCategories(base, cur)
			stat = stats.JensenShannonDistance(e, a)
		}
	}
	switch {
	case math.IsNaN(stat) || (hasP && math.IsNaN(p)):
		fd.Note = fmt.Sprintf("%s is undefined for this data (for example a single category); not counted as drift", fd.Method)
		return fd, true, nil
	case math.IsInf(stat, 0):
		fd.Note = fmt.Sprintf("%s is infinite (a bin or category empty on one side); reported as %g", fd.Method, math.MaxFloat64)
		stat = math.Copysign(math.MaxFloat64, stat)
	}
	fd.Statistic = stat
	if hasP {
		fd.PValue = &p
		fd.Drifted = p < fd.Threshold
	} else {
		fd.Drifted = stat >= fd.Threshold
	}
	return fd, true, nil
}

// sketchCategories returns the sketch's values and their weights keyed by
// the value's text, or nil when it holds more than limit distinct values
// (limit < 0: no limit).
func sketchCategories(s *stats.KLL, limit int) map[string]float64 {
	vals, wts := s.Items()
	m := map[string]float64{}
	distinct := 0
	for i, v := range vals {
		if i == 0 || v != vals[i-1] {
			distinct++
			if limit >= 0 && distinct > limit {
				return nil
			}
		}
		m[strconv.FormatFloat(v, 'g', -1, 64)] += float64(wts[i])
	}
	return m
}

// binnedCategories counts both sketches in 10 bins at the baseline's
// deciles, keyed by bin number.
func binnedCategories(base, cur *stats.KLL) (map[string]float64, map[string]float64) {
	edges := stats.QuantileBins(base, driftBins)
	toMap := func(counts []float64) map[string]float64 {
		m := make(map[string]float64, len(counts))
		for i, c := range counts {
			m[strconv.Itoa(i)] = c
		}
		return m
	}
	return toMap(stats.BinCounts(base, edges)), toMap(stats.BinCounts(cur, edges))
}

// alignCategories returns the two count vectors over the union of
// categories, in sorted order.
func alignCategories(base, cur map[string]float64) ([]float64, []float64) {
	keys := make([]string, 0, len(base)+len(cur))
	for k := range base {
		keys = append(keys, k)
	}
	for k := range cur {
		if _, ok := base[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	e, a := make([]float64, len(keys)), make([]float64, len(keys))
	for i, k := range keys {
		e[i], a[i] = base[k], cur[k]
	}
	return e, a
}

// Summary describes the report in one line for people, e.g.
// "2 of 4 features drifted (share 0.50, threshold 0.50): dataset drift. Drifted: x (wasserstein 0.48 >= 0.1), country (chisquare p 0.001 < 0.05)".
func (r *DriftReport) Summary() string {
	if r.TotalFeatures == 0 {
		return "no feature had data on both sides to test"
	}
	verdict := "no dataset drift"
	if r.DatasetDrift {
		verdict = "dataset drift"
	}
	s := fmt.Sprintf("%d of %d features drifted (share %.2f, threshold %.2f): %s", r.DriftedFeatures, r.TotalFeatures, r.Share, r.ShareThreshold, verdict)
	var drifted []string
	for _, f := range r.Features {
		if !f.Drifted {
			continue
		}
		if f.PValue != nil {
			drifted = append(drifted, fmt.Sprintf("%s (%s p %s < %s)", f.Name, f.Method, fmtNum(*f.PValue), fmtNum(f.Threshold)))
		} else {
			drifted = append(drifted, fmt.Sprintf("%s (%s %s >= %s)", f.Name, f.Method, fmtNum(f.Statistic), fmtNum(f.Threshold)))
		}
	}
	const listed = 10
	if len(drifted) > listed {
		drifted = append(drifted[:listed], fmt.Sprintf("and %d more (see %s)", len(drifted)-listed, DriftFile))
	}
	if len(drifted) > 0 {
		s += ". Drifted: " + strings.Join(drifted, ", ")
	}
	return s
}
