package iac_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/iac"
)

// mustPass evaluates subjects with the tier's minimum and fails on any
// failing rule; the rules infrastructure code answers must pass.
func mustPass(t *testing.T, subjects []compliance.Subject, tier string, min float64) {
	t.Helper()
	if len(subjects) != 1 {
		t.Fatalf("got %d subjects, want 1", len(subjects))
	}
	st := compliance.Settings{RequiredTags: []string{"owner", "cost-center"}, MinSampling: map[string]float64{tier: min}}
	r := compliance.Evaluate(subjects, st)
	answered := map[string]bool{"GBX-CAP-001": true, "GBX-CAP-002": true, "GBX-ENC-001": true, "GBX-PUB-001": true, "GBX-RET-001": true, "GBX-TAG-001": true}
	for _, f := range r.Findings {
		if f.Status == compliance.StatusFail || (answered[f.RuleID] && f.Status != compliance.StatusPass) {
			t.Errorf("%s %s: %s", f.RuleID, f.Status, f.Detail)
		}
		delete(answered, f.RuleID)
	}
	if len(answered) > 0 {
		t.Errorf("rules not evaluated: %v", answered)
	}
}

func TestTemplate_cloudFormationPassesAudit(t *testing.T) {
	opts := iac.TemplateOptions{Name: "fraud", Tier: "audit-critical", MinSampling: 100, RetentionDays: 30, Tags: map[string]string{"team": "risk"}}
	out, err := iac.Template(iac.KindEndpointConfig, iac.FormatCloudFormation, opts)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "endpoint.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	subjects, problems := mustScan(t, file)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	mustPass(t, subjects, "audit-critical", 100)
	s := subjects[0]
	if s.Capture.Encryption != compliance.EncryptionKMSCMK || s.Capture.RetentionDays != 30 || s.Capture.Immutable != compliance.Yes || s.Tags["team"] != "risk" {
		t.Errorf("subject %s", compact(s))
	}
}

func TestTemplate_terraformModelPassesAudit(t *testing.T) {
	// The HCL is not run through Terraform here: the test renders the same
	// resources as plan JSON (iac.PlanJSON) and audits that.
	opts := iac.TemplateOptions{Name: "fraud", Tier: "gold", MinSampling: 40}
	file := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(file, iac.PlanJSON(iac.KindEndpointConfig, opts, "risk", "cc-7"), 0o600); err != nil {
		t.Fatal(err)
	}
	subjects, problems := mustScan(t, file)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	mustPass(t, subjects, "gold", 40)
	hcl, err := iac.Template(iac.KindEndpointConfig, iac.FormatTerraform, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"enable_key_rotation = true", "initial_sampling_percentage = 40", "kms_key_id                  = aws_kms_key.capture.arn",
		"restrict_public_buckets = true", "days = 90", `status = "Enabled"`, `tier          = "gold"`} {
		if !strings.Contains(string(hcl), want) {
			t.Errorf("HCL lacks %q", want)
		}
	}
}

func TestTemplate_captureBucket(t *testing.T) {
	for _, format := range []string{iac.FormatCloudFormation, iac.FormatTerraform} {
		out, err := iac.Template(iac.KindCaptureBucket, format, iac.TemplateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "EndpointConfig") || strings.Contains(string(out), "sagemaker") {
			t.Errorf("%s: capture-bucket template declares an endpoint config", format)
		}
		ep, _ := iac.Template(iac.KindEndpointConfig, format, iac.TemplateOptions{})
		if !strings.HasPrefix(strings.SplitN(string(ep), "\n", 2)[1][:40], strings.SplitN(string(out), "\n", 2)[1][:40]) {
			t.Errorf("%s: endpoint template does not start like the bucket template", format)
		}
	}
	if _, err := iac.Template("nope", iac.FormatTerraform, iac.TemplateOptions{}); err == nil {
		t.Error("unknown kind: no error")
	}
	if _, err := iac.Template(iac.KindCaptureBucket, "pulumi", iac.TemplateOptions{}); err == nil {
		t.Error("unknown format: no error")
	}
}
