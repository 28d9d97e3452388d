package compliance

import (
	"sort"
	"strings"
)

// Settings tune the rules: the inputs some rules need and per-rule
// overrides from configuration.
type Settings struct {
	// RequiredTags are the tags GBX-TAG-001 requires, e.g. [owner,
	// cost-center]; also the tag dimensions of the Summary.
	RequiredTags []string
	// MinSampling is GBX-CAP-002's minimum sampling percentage by tier;
	// "default" applies to tiers not listed. No entry: any sampling > 0.
	MinSampling map[string]float64
	// Overrides switch rules off, re-level or enforce them, by rule id.
	Overrides map[string]RuleOverride
}

// RuleOverride changes one rule. Nil pointers keep the rule's default;
// Tiers override the override for endpoints of a tier.
type RuleOverride struct {
	Enabled  *bool
	Severity *Severity
	// Enforce makes apply and the API refuse a change that makes the rule
	// fail.
	Enforce bool
	Tiers   map[string]RuleOverride
}

// Effective is a rule's setting for one tier after overrides.
type Effective struct {
	Enabled  bool
	Severity Severity
	Enforce  bool
}

// Effective returns rule r's setting for tier: its defaults, then the
// rule's override, then the tier's.
func (st Settings) Effective(r Rule, tier string) Effective {
	e := Effective{Enabled: true, Severity: r.Severity}
	o, ok := st.Overrides[r.ID]
	if !ok {
		return e
	}
	apply := func(o RuleOverride) {
		if o.Enabled != nil {
			e.Enabled = *o.Enabled
		}
		if o.Severity != nil {
			e.Severity = *o.Severity
		}
		e.Enforce = e.Enforce || o.Enforce
	}
	apply(o)
	if t, ok := o.Tiers[tier]; ok {
		apply(t)
	}
	return e
}

// minSampling returns the minimum for tier and the key it came from.
func (st Settings) minSampling(tier string) (float64, string) {
	if v, ok := st.MinSampling[tier]; ok && tier != "" {
		return v, "tier " + tier
	}
	if v, ok := st.MinSampling["default"]; ok {
		return v, "default"
	}
	return 0, "default"
}

// Finding is one rule's verdict on one subject.
type Finding struct {
	Subject     Subject
	RuleID      string
	Title       string
	Severity    Severity // effective severity, after overrides
	Status      string   // StatusPass, StatusFail, StatusUnknown, StatusSkipped
	Detail      string
	Remediation string
	Enforce     bool // the rule is enforced for this subject's tier
}

// Report is the outcome of Evaluate.
type Report struct {
	// Findings holds one finding per subject and rule: subjects in input
	// order, rules in registry order.
	Findings []Finding
	Summary  Summary
	// Rules is the registry the report was made with (for renderers).
	Rules []Rule
}

// Summary holds the KPIs: how many endpoints capture, and how many are
// fully compliant, overall and per group. Totals and Groups count endpoint
// subjects only; standalone capture buckets (KindBucket) are counted in
// Buckets.
type Summary struct {
	Totals Group
	// Groups per source, tier and each required tag, sorted by dimension,
	// key and value.
	Groups []Group
	// Buckets counts the KindBucket subjects.
	Buckets BucketTotals
}

// BucketTotals is the KPIs of standalone capture buckets.
type BucketTotals struct {
	Buckets int
	// FullyCompliant counts buckets on which no enabled rule fails.
	FullyCompliant int
	// Unverified counts buckets with at least one unknown finding.
	Unverified int
}

// Group is the KPIs of one slice of endpoints.
type Group struct {
	Dimension string // "all", "source", "tier" or "tag"
	Key       string // the tag key for "tag"; "" otherwise
	Value     string // source name, tier, tag value ("" when absent)
	Endpoints int
	// CaptureEnabled counts endpoints whose capture is known to be on.
	CaptureEnabled int
	// FullyCompliant counts endpoints on which no enabled rule fails.
	// Unknown findings do not count against it; they are counted in
	// Unverified.
	FullyCompliant int
	// Unverified counts endpoints with at least one unknown finding.
	Unverified int
}

// CaptureEnabledShare is CaptureEnabled / Endpoints (0 when empty).
func (g Group) CaptureEnabledShare() float64 { return share(g.CaptureEnabled, g.Endpoints) }

// FullyCompliantShare is FullyCompliant / Endpoints (0 when empty).
func (g Group) FullyCompliantShare() float64 { return share(g.FullyCompliant, g.Endpoints) }

func share(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// Evaluate runs every rule of the registry on every subject.
func Evaluate(subjects []Subject, st Settings) Report {
	return EvaluateRules(Rules(), subjects, st)
}

// EvaluateRules runs rules on every subject.
func EvaluateRules(rules []Rule, subjects []Subject, st Settings) Report {
	r := Report{Rules: rules, Findings: make([]Finding, 0, len(subjects)*len(rules))}
	for _, s := range subjects {
		if s.Tier == "" {
			s.Tier = "default"
		}
		for _, rule := range rules {
			eff := st.Effective(rule, s.Tier)
			f := Finding{Subject: s, RuleID: rule.ID, Title: rule.Title, Severity: eff.Severity,
				Remediation: rule.Remediation, Enforce: eff.Enforce && eff.Enabled}
			switch {
			case !eff.Enabled:
				f.Status, f.Detail = StatusSkipped, "disabled in configuration"
			case rule.Applies != nil && !rule.Applies(s):
				f.Status, f.Detail = StatusSkipped, "not applicable"
			default:
				res := rule.Check(s, st)
				f.Status, f.Detail = res.Status, res.Detail
			}
			r.Findings = append(r.Findings, f)
		}
	}
	r.Summary = summarize(subjects, r.Findings, len(rules), st.RequiredTags)
	return r
}

// Failing returns the failed findings at or above min, most severe first
// (stable otherwise). Unknown findings never fail.
func (r Report) Failing(min Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Status == StatusFail && f.Severity >= min {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity > out[j].Severity })
	return out
}

// Enforced returns the failed findings of enforced rules: what apply and
// the API refuse.
func (r Report) Enforced() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Status == StatusFail && f.Enforce {
			out = append(out, f)
		}
	}
	return out
}

// Count returns how many findings have status.
func (r Report) Count(status string) int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == status {
			n++
		}
	}
	return n
}

func summarize(subjects []Subject, fs []Finding, perSubject int, tags []string) Summary {
	type key struct{ dim, k, v string }
	groups := map[key]*Group{}
	total := Group{Dimension: "all"}
	var buckets BucketTotals
	add := func(k key, capture, compliant, unverified bool) {
		g := groups[k]
		if g == nil {
			g = &Group{Dimension: k.dim, Key: k.k, Value: k.v}
			groups[k] = g
		}
		inc(g, capture, compliant, unverified)
	}
	for i, s := range subjects {
		tier := s.Tier
		if tier == "" {
			tier = "default"
		}
		capture, compliant, unverified := s.Capture.Enabled == Yes, true, false
		for _, f := range fs[i*perSubject : (i+1)*perSubject] {
			switch f.Status {
			case StatusFail:
				compliant = false
			case StatusUnknown:
				unverified = true
			}
		}
		if s.IsBucket() {
			b := &buckets
			b.Buckets++
			if compliant {
				b.FullyCompliant++
			}
			if unverified {
				b.Unverified++
			}
			continue
		}
		inc(&total, capture, compliant, unverified)
		add(key{"source", "", s.Source}, capture, compliant, unverified)
		add(key{"tier", "", tier}, capture, compliant, unverified)
		for _, t := range tags {
			add(key{"tag", t, strings.TrimSpace(s.Tags[t])}, capture, compliant, unverified)
		}
	}
	out := Summary{Totals: total, Buckets: buckets}
	for _, g := range groups {
		out.Groups = append(out.Groups, *g)
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		if a.Dimension != b.Dimension {
			return a.Dimension < b.Dimension
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Value < b.Value
	})
	return out
}

func inc(g *Group, capture, compliant, unverified bool) {
	g.Endpoints++
	if capture {
		g.CaptureEnabled++
	}
	if compliant {
		g.FullyCompliant++
	}
	if unverified {
		g.Unverified++
	}
}
