package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/glassbox-dev/glassbox/internal/stats"
)

// This file writes and reads the baseline documents, statistics.json and
// constraints.json. Reading is tolerant of keys it does not know, so files
// from newer SageMaker analyzers load, but checks what the rest of the
// package relies on and says which feature is wrong.

// WriteJSON writes v as indented JSON (2 spaces) with a trailing newline;
// SageMaker's documents are plain JSON. HTML characters are not escaped, so
// a value such as "<50k" is written as is.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// ReadStatistics reads statistics.json. Unknown keys are ignored. It checks
// that every feature is named, names are unique, inferred types are
// Integral, Fractional or String with the matching statistics block,
// counts are not negative, and KLL sketches load (k >= 2, c in (0, 1],
// finite items, finite ascending buckets).
func ReadStatistics(r io.Reader) (*Statistics, error) {
	var s Statistics
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("read statistics: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("read statistics: %w", err)
	}
	return &s, nil
}

// Validate checks a statistics document as ReadStatistics does.
func (s *Statistics) Validate() error {
	if s.Dataset.ItemCount < 0 {
		return fmt.Errorf("dataset.item_count is negative (%d)", s.Dataset.ItemCount)
	}
	seen := make(map[string]int, len(s.Features))
	for i := range s.Features {
		f := &s.Features[i]
		if f.Name == "" {
			return fmt.Errorf("features[%d]: name is empty", i)
		}
		if j, dup := seen[f.Name]; dup {
			return fmt.Errorf("feature %q: named twice (features[%d] and features[%d])", f.Name, j, i)
		}
		seen[f.Name] = i
		if err := f.validate(); err != nil {
			return fmt.Errorf("feature %q: %w", f.Name, err)
		}
	}
	return nil
}

func (f *FeatureStatistics) validate() error {
	switch f.InferredType {
	case TypeIntegral, TypeFractional:
		n := f.NumericalStatistics
		if n == nil {
			return fmt.Errorf("inferred_type %s has no numerical_statistics", f.InferredType)
		}
		if err := n.Common.validate(); err != nil {
			return err
		}
		if n.Distribution.KLL != nil {
			if err := n.Distribution.KLL.validate(); err != nil {
				return err
			}
		}
	case TypeString:
		st := f.StringStatistics
		if st == nil {
			return errors.New("inferred_type String has no string_statistics")
		}
		if err := st.Common.validate(); err != nil {
			return err
		}
		if st.DistinctCount < 0 {
			return fmt.Errorf("distinct_count is negative (%v)", st.DistinctCount)
		}
		if c := st.Distribution.Categorical; c != nil {
			for i, b := range c.Buckets {
				if b.Count < 0 {
					return fmt.Errorf("categorical bucket %d (%q): count is negative (%v)", i, b.Value, b.Count)
				}
			}
		}
	case "":
		return errors.New("inferred_type is missing")
	default:
		return fmt.Errorf("inferred_type %q is not Integral, Fractional or String", f.InferredType)
	}
	return nil
}

func (c CommonStatistics) validate() error {
	if c.NumPresent < 0 || c.NumMissing < 0 {
		return fmt.Errorf("common counts are negative (num_present %d, num_missing %d)", c.NumPresent, c.NumMissing)
	}
	return nil
}

func (d *KLLDistribution) validate() error {
	if _, err := d.Sketch.KLL(); err != nil {
		return err
	}
	for i, b := range d.Buckets {
		if !finiteFloat(b.LowerBound) || !finiteFloat(b.UpperBound) || b.LowerBound > b.UpperBound {
			return fmt.Errorf("kll bucket %d: bounds [%v, %v] are not a finite ascending range", i, b.LowerBound, b.UpperBound)
		}
		if b.Count < 0 {
			return fmt.Errorf("kll bucket %d: count is negative (%v)", i, b.Count)
		}
	}
	return nil
}

// KLL rebuilds the quantile sketch a statistics.json sketch block
// serialises. k must be a whole number of at least 2 and c in (0, 1].
func (s *KLLSketch) KLL() (*stats.KLL, error) {
	k := s.Parameters.K
	if k != math.Trunc(k) || k < 2 || k > math.MaxInt32 {
		return nil, fmt.Errorf("kll sketch: parameter k must be a whole number of at least 2, got %v", k)
	}
	sk, err := stats.KLLFromLevels(int(k), s.Parameters.C, s.Data)
	if err != nil {
		return nil, fmt.Errorf("kll sketch: %w", err)
	}
	return sk, nil
}

func finiteFloat(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// ReadConstraints reads constraints.json. Unknown keys are ignored. It
// checks that every feature is named, names are unique, inferred types are
// Integral, Fractional, String or Unknown, completeness is in [0, 1], and
// that the monitoring configs (the file's and each feature's override) use
// known enum values and thresholds in [0, 1] (the ChiSquared p-value and
// the L-infinity distance both live there).
func ReadConstraints(r io.Reader) (*Constraints, error) {
	var c Constraints
	if err := json.NewDecoder(r).Decode(&c); err != nil {
		return nil, fmt.Errorf("read constraints: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("read constraints: %w", err)
	}
	return &c, nil
}

// Validate checks a constraints document as ReadConstraints does.
func (c *Constraints) Validate() error {
	seen := make(map[string]int, len(c.Features))
	for i := range c.Features {
		f := &c.Features[i]
		if f.Name == "" {
			return fmt.Errorf("features[%d]: name is empty", i)
		}
		if j, dup := seen[f.Name]; dup {
			return fmt.Errorf("feature %q: named twice (features[%d] and features[%d])", f.Name, j, i)
		}
		seen[f.Name] = i
		switch f.InferredType {
		case TypeIntegral, TypeFractional, TypeString, TypeUnknown:
		case "":
			return fmt.Errorf("feature %q: inferred_type is missing", f.Name)
		default:
			return fmt.Errorf("feature %q: inferred_type %q is not Integral, Fractional, String or Unknown", f.Name, f.InferredType)
		}
		if f.Completeness != nil && !(*f.Completeness >= 0 && *f.Completeness <= 1) {
			return fmt.Errorf("feature %q: completeness %v is not in [0, 1]", f.Name, *f.Completeness)
		}
		if err := f.MonitoringConfigOverrides.validate(); err != nil {
			return fmt.Errorf("feature %q: monitoringConfigOverrides: %w", f.Name, err)
		}
	}
	if err := c.MonitoringConfig.validate(); err != nil {
		return fmt.Errorf("monitoring_config: %w", err)
	}
	return nil
}

func (m *MonitoringConfig) validate() error {
	if m == nil {
		return nil
	}
	if err := validateEnum("evaluate_constraints", m.EvaluateConstraints, Enabled, Disabled); err != nil {
		return err
	}
	if err := validateEnum("emit_metrics", m.EmitMetrics, Enabled, Disabled); err != nil {
		return err
	}
	if err := validateThreshold("datatype_check_threshold", m.DatatypeCheckThreshold); err != nil {
		return err
	}
	if err := validateThreshold("domain_content_threshold", m.DomainContentThreshold); err != nil {
		return err
	}
	d := m.DistributionConstraints
	if d == nil {
		return nil
	}
	if err := validateEnum("distribution_constraints.perform_comparison", d.PerformComparison, Enabled, Disabled); err != nil {
		return err
	}
	if err := validateEnum("distribution_constraints.comparison_method", d.ComparisonMethod, MethodSimple, MethodRobust); err != nil {
		return err
	}
	if err := validateEnum("distribution_constraints.categorical_drift_method", d.CategoricalDriftMethod, DriftLInfinity, DriftChiSquared); err != nil {
		return err
	}
	if err := validateThreshold("distribution_constraints.comparison_threshold", d.ComparisonThreshold); err != nil {
		return err
	}
	return validateThreshold("distribution_constraints.categorical_comparison_threshold", d.CategoricalComparisonThreshold)
}

// validateEnum accepts an empty (inherited) value or one of allowed.
func validateEnum(key, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%s is %q, want one of %q", key, v, allowed)
}

func validateThreshold(key string, v *float64) error {
	if v != nil && !(*v >= 0 && *v <= 1) {
		return fmt.Errorf("%s is %v, want a number in [0, 1]", key, *v)
	}
	return nil
}
