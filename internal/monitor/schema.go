package monitor

// This file holds the JSON documents Model Monitor reads and writes. Their
// field names are SageMaker's, byte for byte; unknown keys are ignored when
// reading so files written by newer SageMaker analyzers still load.

// Inferred types of a feature.
const (
	TypeIntegral   = "Integral"
	TypeFractional = "Fractional"
	TypeString     = "String"
	TypeUnknown    = "Unknown" // only in constraints: no non-null value seen
)

// Constraint check types of constraint_violations.json.
const (
	CheckDataType         = "data_type_check"
	CheckCompleteness     = "completeness_check"
	CheckBaselineDrift    = "baseline_drift_check"
	CheckMissingColumn    = "missing_column_check"
	CheckExtraColumn      = "extra_column_check"
	CheckCategoricalValue = "categorical_values_check"
)

// File names of a baseline and of a monitoring report.
const (
	StatisticsFile  = "statistics.json"
	ConstraintsFile = "constraints.json"
	ViolationsFile  = "constraint_violations.json"
	DriftFile       = "drift_report.json" // Glassbox's own, beside SageMaker's files
)

// Statistics is statistics.json: a profile of a data set or of one
// monitoring window.
type Statistics struct {
	Version  float64             `json:"version"`
	Dataset  DatasetStatistics   `json:"dataset"`
	Features []FeatureStatistics `json:"features"`
}

// DatasetStatistics counts the rows profiled.
type DatasetStatistics struct {
	ItemCount int64 `json:"item_count"`
}

// FeatureStatistics profiles one column. Exactly one of NumericalStatistics
// (Integral and Fractional) and StringStatistics (String) is set.
type FeatureStatistics struct {
	Name                string               `json:"name"`
	InferredType        string               `json:"inferred_type"`
	NumericalStatistics *NumericalStatistics `json:"numerical_statistics,omitempty"`
	StringStatistics    *StringStatistics    `json:"string_statistics,omitempty"`
}

// CommonStatistics counts present (non-null) and missing values.
type CommonStatistics struct {
	NumPresent int64 `json:"num_present"`
	NumMissing int64 `json:"num_missing"`
}

// NumericalStatistics summarises a numeric column. StdDev is the population
// standard deviation.
type NumericalStatistics struct {
	Common       CommonStatistics      `json:"common"`
	Mean         float64               `json:"mean"`
	Sum          float64               `json:"sum"`
	StdDev       float64               `json:"std_dev"`
	Min          float64               `json:"min"`
	Max          float64               `json:"max"`
	Distribution NumericalDistribution `json:"distribution"`
}

// NumericalDistribution holds the quantile sketch of a numeric column.
type NumericalDistribution struct {
	KLL *KLLDistribution `json:"kll,omitempty"`
}

// KLLDistribution is the KLL sketch of a column and its 10 equal-width
// buckets from min to max.
type KLLDistribution struct {
	Buckets []KLLBucket `json:"buckets"`
	Sketch  KLLSketch   `json:"sketch"`
}

// KLLBucket is one equal-width histogram bucket; Count is a weight, so it
// may be fractional in files from other tools.
type KLLBucket struct {
	LowerBound float64 `json:"lower_bound"`
	UpperBound float64 `json:"upper_bound"`
	Count      float64 `json:"count"`
}

// KLLSketch is the serialised sketch: its parameters and the items retained
// by each compactor level, level 0 first. An item at level h stands for 2^h
// values.
type KLLSketch struct {
	Parameters KLLParameters `json:"parameters"`
	Data       [][]float64   `json:"data"`
}

// KLLParameters are the sketch size k and shrinking factor c (SageMaker uses
// k=2048, c=0.64).
type KLLParameters struct {
	C float64 `json:"c"`
	K float64 `json:"k"`
}

// StringStatistics summarises a string column.
type StringStatistics struct {
	Common        CommonStatistics   `json:"common"`
	DistinctCount float64            `json:"distinct_count"`
	Distribution  StringDistribution `json:"distribution"`
}

// StringDistribution holds the value counts of a string column.
type StringDistribution struct {
	Categorical *CategoricalDistribution `json:"categorical,omitempty"`
}

// CategoricalDistribution lists values and their counts.
type CategoricalDistribution struct {
	Buckets []CategoricalBucket `json:"buckets"`
}

// CategoricalBucket is one value of a string column and how often it was
// seen.
type CategoricalBucket struct {
	Value string  `json:"value"`
	Count float64 `json:"count"`
}

// Constraints is constraints.json: the rules a monitoring window is checked
// against, suggested from a baseline and editable by people.
type Constraints struct {
	Version          float64              `json:"version"`
	Features         []FeatureConstraints `json:"features"`
	MonitoringConfig *MonitoringConfig    `json:"monitoring_config,omitempty"`
}

// FeatureConstraints are the rules for one column. Pointer fields are
// optional: nil means the rule is absent.
type FeatureConstraints struct {
	Name         string   `json:"name"`
	InferredType string   `json:"inferred_type"`
	Completeness *float64 `json:"completeness,omitempty"`
	// NumConstraints applies to Integral and Fractional columns.
	NumConstraints *NumConstraints `json:"num_constraints,omitempty"`
	// StringConstraints applies to String columns.
	StringConstraints *StringConstraints `json:"string_constraints,omitempty"`
	// MonitoringConfigOverrides overrides the file's monitoring_config for
	// this column; its nil fields inherit.
	MonitoringConfigOverrides *MonitoringConfig `json:"monitoringConfigOverrides,omitempty"`
}

// NumConstraints are the numeric rules.
type NumConstraints struct {
	IsNonNegative *bool `json:"is_non_negative,omitempty"`
}

// StringConstraints are the string rules: the values seen in the baseline,
// emitted only for columns of small cardinality.
type StringConstraints struct {
	Domains []string `json:"domains"`
}

// MonitoringConfig tunes the checks. Every field is optional so a per-column
// override can set just one; Resolve fills in SageMaker's defaults.
type MonitoringConfig struct {
	EvaluateConstraints     string                   `json:"evaluate_constraints,omitempty"`
	EmitMetrics             string                   `json:"emit_metrics,omitempty"`
	DatatypeCheckThreshold  *float64                 `json:"datatype_check_threshold,omitempty"`
	DomainContentThreshold  *float64                 `json:"domain_content_threshold,omitempty"`
	DistributionConstraints *DistributionConstraints `json:"distribution_constraints,omitempty"`
}

// DistributionConstraints configure baseline_drift_check.
type DistributionConstraints struct {
	PerformComparison              string   `json:"perform_comparison,omitempty"`
	ComparisonThreshold            *float64 `json:"comparison_threshold,omitempty"`
	ComparisonMethod               string   `json:"comparison_method,omitempty"`
	CategoricalComparisonThreshold *float64 `json:"categorical_comparison_threshold,omitempty"`
	CategoricalDriftMethod         string   `json:"categorical_drift_method,omitempty"`
}

// Values of the MonitoringConfig enums.
const (
	Enabled  = "Enabled"
	Disabled = "Disabled"

	MethodSimple = "Simple"
	MethodRobust = "Robust"

	DriftLInfinity  = "LInfinity"
	DriftChiSquared = "ChiSquared"
)

// Violations is constraint_violations.json.
type Violations struct {
	Violations []Violation `json:"violations"`
}

// Violation is one failed check, described for the person who must act on
// it.
type Violation struct {
	FeatureName         string `json:"feature_name"`
	ConstraintCheckType string `json:"constraint_check_type"`
	Description         string `json:"description"`
}

// ResolvedConfig is a MonitoringConfig with every field set.
type ResolvedConfig struct {
	EvaluateConstraints            bool
	EmitMetrics                    bool
	DatatypeCheckThreshold         float64
	DomainContentThreshold         float64
	PerformComparison              bool
	ComparisonThreshold            float64
	ComparisonMethod               string // MethodSimple or MethodRobust
	CategoricalComparisonThreshold float64
	CategoricalDriftMethod         string // DriftLInfinity or DriftChiSquared
}

// DefaultMonitoringConfig returns SageMaker's defaults, as a baseline job
// writes them into constraints.json.
func DefaultMonitoringConfig() *MonitoringConfig {
	one, tenth := 1.0, 0.1
	return &MonitoringConfig{
		EvaluateConstraints:    Enabled,
		EmitMetrics:            Enabled,
		DatatypeCheckThreshold: &one,
		DomainContentThreshold: &one,
		DistributionConstraints: &DistributionConstraints{
			PerformComparison:              Enabled,
			ComparisonThreshold:            &tenth,
			ComparisonMethod:               MethodRobust,
			CategoricalComparisonThreshold: &tenth,
			CategoricalDriftMethod:         DriftLInfinity,
		},
	}
}

// Resolve layers the given configs, later ones overriding earlier ones
// field by field, on top of SageMaker's defaults. Nil configs are skipped.
func Resolve(configs ...*MonitoringConfig) ResolvedConfig {
	r := ResolvedConfig{}
	for _, c := range append([]*MonitoringConfig{DefaultMonitoringConfig()}, configs...) {
		if c == nil {
			continue
		}
		if c.EvaluateConstraints != "" {
			r.EvaluateConstraints = c.EvaluateConstraints != Disabled
		}
		if c.EmitMetrics != "" {
			r.EmitMetrics = c.EmitMetrics != Disabled
		}
		if c.DatatypeCheckThreshold != nil {
			r.DatatypeCheckThreshold = *c.DatatypeCheckThreshold
		}
		if c.DomainContentThreshold != nil {
			r.DomainContentThreshold = *c.DomainContentThreshold
		}
		d := c.DistributionConstraints
		if d == nil {
			continue
		}
		if d.PerformComparison != "" {
			r.PerformComparison = d.PerformComparison != Disabled
		}
		if d.ComparisonThreshold != nil {
			r.ComparisonThreshold = *d.ComparisonThreshold
		}
		if d.ComparisonMethod != "" {
			r.ComparisonMethod = d.ComparisonMethod
		}
		if d.CategoricalComparisonThreshold != nil {
			r.CategoricalComparisonThreshold = *d.CategoricalComparisonThreshold
		}
		if d.CategoricalDriftMethod != "" {
			r.CategoricalDriftMethod = d.CategoricalDriftMethod
		}
	}
	return r
}
