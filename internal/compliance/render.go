package compliance

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// FindingJSON is a Finding as the JSON report and the API write it.
type FindingJSON struct {
	Source string `json:"source"`
	// Kind is KindEndpoint or KindBucket; Endpoint then names the bucket.
	Kind        string            `json:"kind"`
	Endpoint    string            `json:"endpoint"`
	Resource    string            `json:"resource,omitempty"`
	File        string            `json:"file,omitempty"`
	Line        int               `json:"line,omitempty"`
	Region      string            `json:"region,omitempty"`
	Account     string            `json:"account,omitempty"`
	Tier        string            `json:"tier"`
	Tags        map[string]string `json:"tags,omitempty"`
	RuleID      string            `json:"rule_id"`
	Title       string            `json:"title"`
	Severity    Severity          `json:"severity"`
	Status      string            `json:"status"`
	Detail      string            `json:"detail"`
	Remediation string            `json:"remediation,omitempty"`
	Enforce     bool              `json:"enforce,omitempty"`
}

// GroupJSON is a Group with its shares.
type GroupJSON struct {
	Dimension           string  `json:"dimension"`
	Key                 string  `json:"key,omitempty"`
	Value               string  `json:"value"`
	Endpoints           int     `json:"endpoints"`
	CaptureEnabled      int     `json:"capture_enabled"`
	CaptureEnabledShare float64 `json:"capture_enabled_share"`
	FullyCompliant      int     `json:"fully_compliant"`
	FullyCompliantShare float64 `json:"fully_compliant_share"`
	Unverified          int     `json:"unverified"`
}

// BucketsJSON is BucketTotals in JSON.
type BucketsJSON struct {
	Buckets        int `json:"buckets"`
	FullyCompliant int `json:"fully_compliant"`
	Unverified     int `json:"unverified"`
}

// ReportJSON is the JSON form of a Report (docs/cli-json.md).
type ReportJSON struct {
	Summary struct {
		GroupJSON
		Groups []GroupJSON `json:"groups"`
		// Buckets counts standalone capture buckets; absent when none.
		Buckets *BucketsJSON `json:"capture_buckets,omitempty"`
	} `json:"summary"`
	Counts   map[string]int `json:"counts"`
	Findings []FindingJSON  `json:"findings"`
}

func groupJSON(g Group) GroupJSON {
	return GroupJSON{Dimension: g.Dimension, Key: g.Key, Value: g.Value, Endpoints: g.Endpoints,
		CaptureEnabled: g.CaptureEnabled, CaptureEnabledShare: g.CaptureEnabledShare(),
		FullyCompliant: g.FullyCompliant, FullyCompliantShare: g.FullyCompliantShare(), Unverified: g.Unverified}
}

// JSON returns the report's JSON form.
func (r Report) JSON() ReportJSON {
	var out ReportJSON
	out.Summary.GroupJSON = groupJSON(r.Summary.Totals)
	out.Summary.Groups = make([]GroupJSON, 0, len(r.Summary.Groups))
	for _, g := range r.Summary.Groups {
		out.Summary.Groups = append(out.Summary.Groups, groupJSON(g))
	}
	if b := r.Summary.Buckets; b.Buckets > 0 {
		out.Summary.Buckets = &BucketsJSON{Buckets: b.Buckets, FullyCompliant: b.FullyCompliant, Unverified: b.Unverified}
	}
	out.Counts = map[string]int{}
	for _, st := range []string{StatusPass, StatusFail, StatusUnknown, StatusSkipped} {
		out.Counts[st] = r.Count(st)
	}
	out.Findings = make([]FindingJSON, 0, len(r.Findings))
	for _, f := range r.Findings {
		s := f.Subject
		out.Findings = append(out.Findings, FindingJSON{Source: s.Source, Kind: s.KindOrDefault(), Endpoint: s.Name, Resource: s.Resource,
			File: s.File, Line: s.Line, Region: s.Region, Account: s.Account, Tier: s.Tier, Tags: s.Tags,
			RuleID: f.RuleID, Title: f.Title, Severity: f.Severity, Status: f.Status, Detail: f.Detail,
			Remediation: f.Remediation, Enforce: f.Enforce})
	}
	return out
}

// MarshalJSON encodes the report as ReportJSON.
func (r Report) MarshalJSON() ([]byte, error) { return json.Marshal(r.JSON()) }

// WriteJSON writes the report as indented JSON (ReportJSON).
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.JSON()); err != nil {
		return fmt.Errorf("write compliance json: %w", err)
	}
	return nil
}

// WriteCSV writes one row per finding, passes and skips included, under a
// header row. The subject's kind is the last column.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"source", "endpoint", "resource", "tier", "rule_id", "severity", "status", "detail", "remediation", "kind"})
	for _, f := range r.Findings {
		s := f.Subject
		_ = cw.Write([]string{s.Source, s.Name, s.Resource, s.Tier, f.RuleID, f.Severity.String(), f.Status, f.Detail, f.Remediation, s.KindOrDefault()})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write compliance csv: %w", err)
	}
	return nil
}

// WriteTable writes the failed and unknown findings, most severe first,
// then the KPIs. Passed and skipped findings are only counted. A KIND
// column appears when the report holds standalone capture buckets.
func WriteTable(w io.Writer, r Report) error {
	withKind := r.Summary.Buckets.Buckets > 0
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if withKind {
		fmt.Fprintln(tw, "SEVERITY\tSTATUS\tRULE\tSOURCE\tKIND\tNAME\tTIER\tDETAIL")
	} else {
		fmt.Fprintln(tw, "SEVERITY\tSTATUS\tRULE\tSOURCE\tENDPOINT\tTIER\tDETAIL")
	}
	rows := r.Failing(Low)
	for _, f := range r.Findings {
		if f.Status == StatusUnknown {
			rows = append(rows, f)
		}
	}
	for _, f := range rows {
		s := f.Subject
		if withKind {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Status, f.RuleID, s.Source, s.KindOrDefault(), s.Name, s.Tier, f.Detail)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Status, f.RuleID, s.Source, s.Name, s.Tier, f.Detail)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write compliance table: %w", err)
	}
	t := r.Summary.Totals
	buckets := ""
	if b := r.Summary.Buckets; b.Buckets > 0 {
		buckets = fmt.Sprintf("; %s: %d fully compliant, %d with unchecked facts", plural(b.Buckets, "capture bucket", "capture buckets"), b.FullyCompliant, b.Unverified)
	}
	_, err := fmt.Fprintf(w, "\n%s: %d with capture enabled (%s), %d fully compliant (%s), %d with unchecked facts%s; findings: %d pass, %d fail, %d unknown, %d skipped\n",
		plural(t.Endpoints, "endpoint", "endpoints"), t.CaptureEnabled, pct(t.CaptureEnabledShare()), t.FullyCompliant, pct(t.FullyCompliantShare()), t.Unverified,
		buckets, r.Count(StatusPass), r.Count(StatusFail), r.Count(StatusUnknown), r.Count(StatusSkipped))
	if err != nil {
		return fmt.Errorf("write compliance table: %w", err)
	}
	return nil
}

// plural returns "n one" or "n many".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func pct(x float64) string { return strconv.FormatFloat(100*x, 'f', 0, 64) + "%" }

// SARIF 2.1.0, the subset Glassbox writes.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name"`
		ShortDescription     sarifText      `json:"shortDescription"`
		FullDescription      sarifText      `json:"fullDescription"`
		Help                 sarifText      `json:"help"`
		DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
		Properties           map[string]any `json:"properties,omitempty"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Kind      string          `json:"kind"`
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations"`
		// Properties carries the subject's kind.
		Properties map[string]string `json:"properties,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical     `json:"physicalLocation"`
		LogicalLocations []sarifLogicalLoc `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogicalLoc struct {
		Name string `json:"name"`
		Kind string `json:"kind,omitempty"`
	}
)

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s Severity) string {
	switch {
	case s >= High:
		return "error"
	case s == Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score code-scanning UIs sort by.
func securitySeverity(s Severity) string {
	switch s {
	case Critical:
		return "9.5"
	case High:
		return "7.5"
	case Medium:
		return "5.0"
	}
	return "2.0"
}

// WriteSARIF writes the failed findings (kind "fail", level by severity)
// and the unknown ones (kind "review", level "note") as a SARIF 2.1.0 log
// for code-scanning UIs. Each result is located at Subject.File (with
// Subject.Line when known) or, for subjects outside files, Subject.Resource.
func WriteSARIF(w io.Writer, r Report, toolVersion string) error {
	rules := r.Rules
	if rules == nil {
		rules = Rules()
	}
	index := map[string]int{}
	driver := sarifDriver{Name: "glassbox", Version: toolVersion, InformationURI: "https://github.com/glassbox-dev/glassbox/blob/main/docs/compliance.md"}
	for i, rule := range rules {
		index[rule.ID] = i
		driver.Rules = append(driver.Rules, sarifRule{ID: rule.ID, Name: sarifName(rule.Title),
			ShortDescription: sarifText{rule.Title}, FullDescription: sarifText{rule.Rationale},
			Help:                 sarifText{rule.Remediation},
			DefaultConfiguration: sarifConfig{sarifLevel(rule.Severity)},
			Properties:           map[string]any{"security-severity": securitySeverity(rule.Severity), "tags": []string{"security", "compliance"}}})
	}
	results := []sarifResult{}
	for _, f := range r.Findings {
		var kind, level string
		switch f.Status {
		case StatusFail:
			kind, level = "fail", sarifLevel(f.Severity)
		case StatusUnknown:
			kind, level = "review", "note"
		default:
			continue
		}
		s := f.Subject
		uri := s.File
		if uri == "" {
			uri = s.Resource
		}
		if uri == "" {
			uri = s.Source + ":endpoint/" + s.Name
		}
		loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}}
		if s.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: s.Line}
		}
		if s.Name != "" {
			loc.LogicalLocations = []sarifLogicalLoc{{Name: s.Name, Kind: "resource"}}
		}
		results = append(results, sarifResult{RuleID: f.RuleID, RuleIndex: index[f.RuleID], Kind: kind, Level: level,
			Message:   sarifText{fmt.Sprintf("%s: %s (%s)", s.Name, f.Detail, f.Title)},
			Locations: []sarifLocation{loc}, Properties: map[string]string{"subjectKind": s.KindOrDefault()}})
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0",
		Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write compliance sarif: %w", err)
	}
	return nil
}

// sarifName turns a title into a PascalCase rule name.
func sarifName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool { return r == ' ' || r == '\'' || r == '-' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// Output formats of Write.
var Formats = []string{"table", "json", "sarif", "csv"}

// Write renders r in format: "table", "json", "sarif" or "csv".
func Write(w io.Writer, r Report, format, toolVersion string) error {
	switch format {
	case "table", "":
		return WriteTable(w, r)
	case "json":
		return WriteJSON(w, r)
	case "sarif":
		return WriteSARIF(w, r, toolVersion)
	case "csv":
		return WriteCSV(w, r)
	}
	return fmt.Errorf("unknown output format %q: want %s", format, strings.Join(Formats, ", "))
}

// Report rebuilds a Report from its JSON form (as the API serves it), with
// the registry's rules. Group shares are recomputed from the counts.
func (rj ReportJSON) Report() Report {
	r := Report{Rules: Rules(), Findings: make([]Finding, 0, len(rj.Findings))}
	for _, f := range rj.Findings {
		r.Findings = append(r.Findings, Finding{
			Subject: Subject{Source: f.Source, Kind: kindFromJSON(f.Kind), Name: f.Endpoint, Resource: f.Resource, File: f.File, Line: f.Line,
				Region: f.Region, Account: f.Account, Tier: f.Tier, Tags: f.Tags},
			RuleID: f.RuleID, Title: f.Title, Severity: f.Severity, Status: f.Status, Detail: f.Detail,
			Remediation: f.Remediation, Enforce: f.Enforce})
	}
	group := func(g GroupJSON) Group {
		return Group{Dimension: g.Dimension, Key: g.Key, Value: g.Value, Endpoints: g.Endpoints,
			CaptureEnabled: g.CaptureEnabled, FullyCompliant: g.FullyCompliant, Unverified: g.Unverified}
	}
	r.Summary.Totals = group(rj.Summary.GroupJSON)
	if b := rj.Summary.Buckets; b != nil {
		r.Summary.Buckets = BucketTotals{Buckets: b.Buckets, FullyCompliant: b.FullyCompliant, Unverified: b.Unverified}
	}
	for _, g := range rj.Summary.Groups {
		r.Summary.Groups = append(r.Summary.Groups, group(g))
	}
	return r
}

// kindFromJSON maps the JSON kind back to Subject.Kind ("" for endpoints).
func kindFromJSON(k string) string {
	if k == KindEndpoint {
		return ""
	}
	return k
}
