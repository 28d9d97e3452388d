package compliance_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

func ptr[T any](v T) *T { return &v }

// good is a subject every rule passes (GBX-REG-001 included).
func good() compliance.Subject {
	return compliance.Subject{
		Source: compliance.SourceGlassbox, Name: "churn", Resource: "glassbox:endpoint/churn", Tier: "prod",
		Tags: map[string]string{"owner": "ml", "cost-center": "42", "tier": "prod"},
		Capture: compliance.Capture{Enabled: compliance.Yes, SamplingPercent: 50, Destination: "s3://b/p",
			Encryption: compliance.EncryptionKMSCMK, KMSKeyID: "arn:aws:kms:eu-west-1:1:key/k",
			DestinationPublic: compliance.No, Retention: compliance.Yes, RetentionDays: 30},
		Monitored: compliance.Yes, Alerting: compliance.Yes, ModelApproved: compliance.Yes,
	}
}

var settings = compliance.Settings{
	RequiredTags: []string{"owner", "cost-center"},
	MinSampling:  map[string]float64{"default": 10, "prod": 25},
}

// status returns the status and detail of rule id on subject s.
func status(t *testing.T, s compliance.Subject, st compliance.Settings, id string) compliance.Finding {
	t.Helper()
	for _, f := range compliance.Evaluate([]compliance.Subject{s}, st).Findings {
		if f.RuleID == id {
			return f
		}
	}
	t.Fatalf("no finding for %s", id)
	return compliance.Finding{}
}

func TestRules(t *testing.T) {
	for _, f := range compliance.Evaluate([]compliance.Subject{good()}, settings).Findings {
		if f.Status != compliance.StatusPass {
			t.Errorf("good subject: %s = %s (%s), want pass", f.RuleID, f.Status, f.Detail)
		}
	}
	cases := []struct {
		rule   string
		mutate func(*compliance.Subject)
		want   string // status
		detail string // substring
	}{
		{"GBX-CAP-001", func(s *compliance.Subject) { s.Capture.Enabled = compliance.No }, "fail", "disabled"},
		{"GBX-CAP-001", func(s *compliance.Subject) {
			s.Capture.Enabled = compliance.Unknown
			s.Unchecked = map[string]string{"capture.enabled": "sagemaker:DescribeEndpointConfig: AccessDenied"}
		}, "unknown", "AccessDenied"},
		{"GBX-CAP-002", func(s *compliance.Subject) { s.Capture.SamplingPercent = 20 }, "fail", "tier prod minimum of 25%"},
		{"GBX-CAP-002", func(s *compliance.Subject) { s.Tier = "dev"; s.Capture.SamplingPercent = 5 }, "fail", "default minimum of 10%"},
		{"GBX-CAP-002", func(s *compliance.Subject) { s.Tier = "dev"; s.Capture.SamplingPercent = 10 }, "pass", ""},
		{"GBX-CAP-002", func(s *compliance.Subject) { s.Capture.SamplingPercent = 0 }, "fail", "nothing is captured"},
		{"GBX-CAP-002", func(s *compliance.Subject) { s.Capture.Enabled = compliance.No }, "skipped", "not applicable"},
		{"GBX-ENC-001", func(s *compliance.Subject) { s.Capture.Encryption = compliance.EncryptionEnvelope }, "pass", "envelope"},
		{"GBX-ENC-001", func(s *compliance.Subject) { s.Capture.Encryption = compliance.EncryptionSSEKMS }, "fail", "AWS-managed"},
		{"GBX-ENC-001", func(s *compliance.Subject) { s.Capture.Encryption = compliance.EncryptionSSES3 }, "fail", "SSE-S3"},
		{"GBX-ENC-001", func(s *compliance.Subject) { s.Capture.Encryption = compliance.EncryptionNone }, "fail", "not encrypted"},
		{"GBX-ENC-001", func(s *compliance.Subject) { s.Capture.Encryption = "" }, "unknown", "not reported by the glassbox source"},
		{"GBX-PUB-001", func(s *compliance.Subject) { s.Capture.DestinationPublic = compliance.Yes }, "fail", "publicly readable"},
		{"GBX-PUB-001", func(s *compliance.Subject) {
			s.Capture.DestinationPublic = compliance.Unknown
			s.Unchecked = map[string]string{"capture.destination_public": "not checked offline"}
		}, "unknown", "not checked offline"},
		{"GBX-RET-001", func(s *compliance.Subject) { s.Capture.Retention = compliance.No }, "fail", "kept forever"},
		{"GBX-TAG-001", func(s *compliance.Subject) { delete(s.Tags, "cost-center") }, "fail", "missing tags: cost-center"},
		{"GBX-TAG-001", func(s *compliance.Subject) { s.Tags = nil }, "fail", "owner, cost-center"},
		{"GBX-MON-001", func(s *compliance.Subject) { s.Monitored = compliance.No }, "fail", "no monitoring"},
		{"GBX-ALR-001", func(s *compliance.Subject) { s.Alerting = compliance.No }, "fail", "notify nobody"},
		{"GBX-REG-001", func(s *compliance.Subject) { s.ModelApproved = compliance.Unknown }, "unknown", "model_approved"},
		{"GBX-REG-001", func(s *compliance.Subject) { s.ModelApproved = compliance.No }, "fail", "not approved"},
	}
	for _, c := range cases {
		s := good()
		s.Tags = map[string]string{"owner": "ml", "cost-center": "42"}
		c.mutate(&s)
		f := status(t, s, settings, c.rule)
		if f.Status != c.want || !strings.Contains(f.Detail, c.detail) {
			t.Errorf("%s: got %s %q, want %s containing %q", c.rule, f.Status, f.Detail, c.want, c.detail)
		}
	}
}

func TestRules_documented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range compliance.Rules() {
		if seen[r.ID] || r.Title == "" || r.Rationale == "" || r.Remediation == "" || r.Severity < compliance.Low || r.Check == nil {
			t.Errorf("rule %q is incomplete or duplicated", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestOverrides(t *testing.T) {
	s := good()
	s.Capture.Enabled = compliance.No
	st := settings
	st.Overrides = map[string]compliance.RuleOverride{
		"GBX-CAP-001": {Severity: ptr(compliance.Medium), Enforce: true,
			Tiers: map[string]compliance.RuleOverride{"dev": {Enabled: ptr(false)}, "prod": {Severity: ptr(compliance.Low)}}},
		"GBX-MON-001": {Enabled: ptr(false)},
	}
	f := status(t, s, st, "GBX-CAP-001")
	if f.Status != "fail" || f.Severity != compliance.Low || !f.Enforce {
		t.Errorf("prod: got %+v, want fail low enforced", f)
	}
	s.Tier = "staging"
	if f := status(t, s, st, "GBX-CAP-001"); f.Severity != compliance.Medium {
		t.Errorf("staging: severity %s, want medium", f.Severity)
	}
	s.Tier = "dev"
	if f := status(t, s, st, "GBX-CAP-001"); f.Status != "skipped" || f.Enforce {
		t.Errorf("dev: got %+v, want skipped, not enforced", f)
	}
	s.Monitored = compliance.No
	if f := status(t, s, st, "GBX-MON-001"); f.Status != "skipped" || f.Detail != "disabled in configuration" {
		t.Errorf("disabled rule: got %+v", f)
	}
	r := compliance.Evaluate([]compliance.Subject{s}, st)
	if len(r.Enforced()) != 0 {
		t.Errorf("Enforced on dev = %v, want none", r.Enforced())
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range compliance.Severities() {
		got, err := compliance.ParseSeverity(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := compliance.ParseSeverity("urgent"); err == nil {
		t.Error("ParseSeverity(urgent) succeeded")
	}
}

func mixed() []compliance.Subject {
	off := good()
	off.Name, off.Tier, off.Resource = "legacy", "dev", ""
	off.Capture = compliance.Capture{Enabled: compliance.No}
	off.Tags = map[string]string{"owner": "ml"}
	iac := good()
	iac.Source, iac.Name, iac.File, iac.Line, iac.Resource = compliance.SourceIaC, "Scorer", "stack.yaml", 12, "stack.yaml#Scorer"
	iac.Capture.Encryption = compliance.EncryptionSSES3
	iac.ModelApproved = compliance.Unknown
	return []compliance.Subject{good(), off, iac}
}

func TestFailingAndSummary(t *testing.T) {
	r := compliance.Evaluate(mixed(), settings)
	if got := len(r.Failing(compliance.Critical)); got != 1 {
		t.Errorf("Failing(critical) = %d, want 1 (legacy GBX-CAP-001)", got)
	}
	fs := r.Failing(compliance.Low)
	if len(fs) != 3 || fs[0].RuleID != "GBX-CAP-001" {
		t.Errorf("Failing(low) = %+v", fs)
	}
	tot := r.Summary.Totals
	if tot.Endpoints != 3 || tot.CaptureEnabled != 2 || tot.FullyCompliant != 1 || tot.Unverified != 1 {
		t.Errorf("totals = %+v", tot)
	}
	var found bool
	for _, g := range r.Summary.Groups {
		if g.Dimension == "tag" && g.Key == "cost-center" && g.Value == "" {
			found = g.Endpoints == 1 && g.CaptureEnabledShare() == 0
		}
	}
	if !found {
		t.Errorf("no cost-center=\"\" group with 1 endpoint: %+v", r.Summary.Groups)
	}
}

func TestWriteSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := compliance.WriteSARIF(&b, compliance.Evaluate(mixed(), settings), "1.2.3"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name, Version string
					Rules         []struct {
						ID               string `json:"id"`
						ShortDescription struct{ Text string }
					}
				}
			}
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           *struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, b.String())
	}
	if log.Version != "2.1.0" || log.Schema == "" || len(log.Runs) != 1 {
		t.Fatalf("bad log header: %+v", log)
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "glassbox" || run.Tool.Driver.Version != "1.2.3" || len(run.Tool.Driver.Rules) != len(compliance.Rules()) {
		t.Errorf("driver = %+v", run.Tool.Driver)
	}
	levels := map[string]bool{"error": true, "warning": true, "note": true, "none": true}
	var sawLine bool
	for _, res := range run.Results {
		if res.RuleID == "" || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID || !levels[res.Level] || res.Message.Text == "" || len(res.Locations) != 1 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("bad result %+v", res)
		}
		if reg := res.Locations[0].PhysicalLocation.Region; reg != nil {
			sawLine = reg.StartLine == 12 && res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "stack.yaml"
		}
	}
	if len(run.Results) != 4 || !sawLine {
		t.Errorf("results = %d (want 3 fail + 1 unknown), line seen %v", len(run.Results), sawLine)
	}
}

func TestWriteCSVAndJSON(t *testing.T) {
	r := compliance.Evaluate(mixed(), settings)
	var b bytes.Buffer
	if err := compliance.WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 1+len(r.Findings) || rows[0][4] != "rule_id" {
		t.Fatalf("csv: %v, %d rows", err, len(rows))
	}
	b.Reset()
	if err := compliance.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var got compliance.ReportJSON
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Summary.Endpoints != 3 || got.Counts["fail"] != 3 || len(got.Findings) != len(r.Findings) || got.Findings[0].Severity != compliance.Critical {
		t.Errorf("json = %+v", got.Summary)
	}
	if err := compliance.Write(&b, r, "xml", ""); err == nil {
		t.Error("Write(xml) succeeded")
	}
}
