package monitor

import "slices"

// maxDomainSize is the largest number of distinct values a String column may
// have for SuggestConstraints to write its string_constraints.domains.
// SageMaker documents only "small cardinality"; 20 keeps the list readable
// for a person editing constraints.json and covers typical categorical
// features (states of a workflow, plan names, country codes of one market)
// while leaving out identifiers and free text, where a domain would turn
// every new value into a categorical_values_check violation.
const maxDomainSize = 20

// SuggestConstraints derives constraints.json from a baseline profile, the
// way a SageMaker baselining job suggests them:
//
//   - version 0.0 and monitoring_config = DefaultMonitoringConfig();
//   - per feature, in the profile's order: inferred_type (Unknown when no
//     value was present) and completeness, the baseline's present fraction
//     (omitted when the profile has no rows);
//   - num_constraints.is_non_negative = (min >= 0) for Integral and
//     Fractional features;
//   - string_constraints.domains, sorted, for String features whose values
//     were all counted (CategoriesComplete) and number at most 20.
//
// No per-feature monitoringConfigOverrides are written; people add them.
func SuggestConstraints(p *Profile) *Constraints {
	out := &Constraints{
		Version:          0,
		Features:         make([]FeatureConstraints, 0, len(p.Columns)),
		MonitoringConfig: DefaultMonitoringConfig(),
	}
	for i := range p.Columns {
		c := &p.Columns[i]
		fc := FeatureConstraints{Name: c.Name, InferredType: c.InferredType()}
		if c.Present == 0 {
			fc.InferredType = TypeUnknown
		}
		if total := c.Present + c.Missing; total > 0 {
			completeness := float64(c.Present) / float64(total)
			fc.Completeness = &completeness
		}
		switch fc.InferredType {
		case TypeIntegral, TypeFractional:
			nonNeg := columnMin(p, i) >= 0
			fc.NumConstraints = &NumConstraints{IsNonNegative: &nonNeg}
		case TypeString:
			if c.CategoriesComplete && len(c.Categories) > 0 && len(c.Categories) <= maxDomainSize {
				domains := make([]string, 0, len(c.Categories))
				for v := range c.Categories {
					domains = append(domains, v)
				}
				slices.Sort(domains)
				fc.StringConstraints = &StringConstraints{Domains: domains}
			}
		}
		out.Features = append(out.Features, fc)
	}
	return out
}

// columnMin returns the minimum of numeric column i, from the statistics
// when they are aligned with the columns, else from the sketch.
func columnMin(p *Profile, i int) float64 {
	if i < len(p.Statistics.Features) {
		f := &p.Statistics.Features[i]
		if f.Name == p.Columns[i].Name && f.NumericalStatistics != nil {
			return f.NumericalStatistics.Min
		}
	}
	if s := p.Columns[i].Sketch; s != nil && s.Count() > 0 {
		return s.Quantile(0)
	}
	return 0
}
