package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Compliance configures the compliance rules of glassbox audit, the
// compliance API and its gauges (docs/compliance.md).
type Compliance struct {
	// RequiredTags are the tags rule GBX-TAG-001 requires and the tag
	// dimensions of the KPIs. Default none here, meaning
	// policies.required_tags when set, else [owner, cost-center].
	RequiredTags []string `yaml:"required_tags"`
	// Rules switch rules off, re-level or enforce them, by rule id
	// (GBX-CAP-001, ...; see ComplianceRuleIDs). Default: every rule on at
	// its documented severity, none enforced.
	Rules map[string]ComplianceRule `yaml:"rules"`
}

// ComplianceRule overrides one rule.
type ComplianceRule struct {
	// Enabled switches the rule on or off. Default nil: on.
	Enabled *bool `yaml:"enabled"`
	// Severity re-levels the rule: low, medium, high or critical. Default
	// "": the rule's documented severity.
	Severity string `yaml:"severity"`
	// Enforce makes glassbox apply and the API refuse an endpoint change
	// that makes the rule fail. Default false.
	Enforce bool `yaml:"enforce"`
	// Tiers override Enabled and Severity for endpoints whose "tier" tag
	// has this value ("default": endpoints without a tier).
	Tiers map[string]ComplianceTierRule `yaml:"tiers"`
}

// ComplianceTierRule overrides one rule for one tier.
type ComplianceTierRule struct {
	Enabled  *bool  `yaml:"enabled"`
	Severity string `yaml:"severity"`
}

// ComplianceRuleIDs lists the rule ids of the compliance package's
// registry (config may not import it); a test keeps the two lists equal.
var ComplianceRuleIDs = []string{"GBX-CAP-001", "GBX-CAP-002", "GBX-ENC-001", "GBX-PUB-001",
	"GBX-RET-001", "GBX-TAG-001", "GBX-MON-001", "GBX-ALR-001", "GBX-REG-001"}

// ComplianceSeverities are the values allowed in severity keys.
var ComplianceSeverities = []string{"low", "medium", "high", "critical"}

// DefaultComplianceTags are the required tags when neither
// compliance.required_tags nor policies.required_tags is set.
var DefaultComplianceTags = []string{"owner", "cost-center"}

// EffectiveRequiredTags returns compliance.required_tags, else
// policies.required_tags, else DefaultComplianceTags.
func (c *Config) EffectiveRequiredTags() []string {
	switch {
	case len(c.Compliance.RequiredTags) > 0:
		return c.Compliance.RequiredTags
	case len(c.Policies.RequiredTags) > 0:
		return c.Policies.RequiredTags
	}
	return slices.Clone(DefaultComplianceTags)
}

func (c *Compliance) validate(ps *problems) {
	seen := map[string]bool{}
	for i, tag := range c.RequiredTags {
		p := fmt.Sprintf("compliance.required_tags[%d]", i)
		if strings.TrimSpace(tag) == "" {
			ps.add(p, "must not be empty")
		} else if seen[tag] {
			ps.add(p, "duplicate tag %s", quote(tag))
		}
		seen[tag] = true
	}
	ids := make([]string, 0, len(c.Rules))
	for id := range c.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := "compliance.rules." + id
		if !slices.Contains(ComplianceRuleIDs, id) {
			ps.add(p, "unknown rule %s (known: %s)", quote(id), strings.Join(ComplianceRuleIDs, ", "))
			continue
		}
		r := c.Rules[id]
		checkSeverity(ps, p+".severity", r.Severity)
		tiers := make([]string, 0, len(r.Tiers))
		for t := range r.Tiers {
			tiers = append(tiers, t)
		}
		sort.Strings(tiers)
		for _, t := range tiers {
			if strings.TrimSpace(t) == "" {
				ps.add(p+".tiers", "a tier name must not be empty")
				continue
			}
			checkSeverity(ps, p+".tiers."+t+".severity", r.Tiers[t].Severity)
		}
	}
}

func checkSeverity(ps *problems, path, s string) {
	if s != "" && !slices.Contains(ComplianceSeverities, s) {
		ps.add(path, "%s is not a severity (want %s)", quote(s), strings.Join(ComplianceSeverities, ", "))
	}
}

// LoadAudit reads the configuration file at path like Load, but without
// the policies check, so glassbox audit can report the endpoints that break
// a policy instead of refusing the file. Errors name the file.
func LoadAudit(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg, err := ParseAudit(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseAudit is Parse without checking endpoints against the policies
// (the policies section itself is still validated).
func ParseAudit(data []byte) (*Config, error) {
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	cfg := Default()
	if root != nil {
		d := &decoder{lookup: os.LookupEnv}
		d.decode(root, reflect.ValueOf(cfg).Elem(), "")
		if len(d.problems) > 0 {
			return nil, ValidationError{Problems: d.problems}
		}
	}
	pol := cfg.Policies
	cfg.Policies = Policies{}
	err = cfg.Validate()
	cfg.Policies = pol
	var ps problems
	var ve ValidationError
	if errors.As(err, &ve) {
		ps = ve.Problems
	} else if err != nil {
		return nil, err
	}
	pol.validate(&ps)
	if len(ps) > 0 {
		return nil, ValidationError{Problems: ps}
	}
	return cfg, nil
}
