package config_test

import (
	"slices"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestCompliance_parse(t *testing.T) {
	cfg, err := config.Load("testdata/compliance.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Compliance.Rules["GBX-CAP-001"]
	if r.Severity != "critical" || !r.Enforce || r.Tiers["dev"].Enabled == nil || *r.Tiers["dev"].Enabled {
		t.Errorf("GBX-CAP-001 = %+v", r)
	}
	if got := cfg.EffectiveRequiredTags(); !slices.Equal(got, []string{"owner", "cost-center", "team"}) {
		t.Errorf("EffectiveRequiredTags = %v", got)
	}
	if got := config.Default().EffectiveRequiredTags(); !slices.Equal(got, config.DefaultComplianceTags) {
		t.Errorf("default EffectiveRequiredTags = %v", got)
	}
	p := mustParse(t, "policies: {required_tags: [team]}\n")
	if got := p.EffectiveRequiredTags(); !slices.Equal(got, []string{"team"}) {
		t.Errorf("policies fallback = %v", got)
	}
}

func TestParseAudit_skipsPolicyChecks(t *testing.T) {
	doc := "policies: {required_tags: [owner]}\nendpoints: [{name: x, variants: [{name: A, upstream: 'http://127.0.0.1:1'}]}]\n"
	if _, err := config.Parse([]byte(doc)); err == nil {
		t.Fatal("Parse accepted an endpoint without the required tag")
	}
	cfg, err := config.ParseAudit([]byte(doc))
	if err != nil || len(cfg.Policies.RequiredTags) != 1 {
		t.Fatalf("ParseAudit: %v", err)
	}
	if _, err := config.ParseAudit([]byte("policies: {min_sampling_percent: {default: 120}}\n")); err == nil {
		t.Error("ParseAudit accepted a bad policies section")
	}
	if _, err := config.ParseAudit([]byte("compliance: {rules: {NOPE: {}}}\n")); err == nil {
		t.Error("ParseAudit accepted an unknown rule")
	}
}
