package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// iacFixture is the CloudFormation fixture with one endpoint config without
// capture, one with low sampling into a public, SSE-S3 bucket without
// lifecycle, and one whose capture depends on a condition.
const iacFixture = "../../internal/iac/testdata/noncompliant.yaml"

func TestAuditIaC_failOn(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"audit", "iac", iacFixture, "--fail-on", "high"}, &out, &errOut)
	if code != exitAuditFailed {
		t.Fatalf("exit %d, want %d: %s", code, exitAuditFailed, errOut.String())
	}
	for _, want := range []string{"GBX-CAP-001", "GBX-PUB-001", "GBX-ENC-001", "no-capture", "LowSampling"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "at or above high") {
		t.Errorf("stderr = %q, want the --fail-on summary", errOut.String())
	}

	// JSON names the failing rules and the file of each finding.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"audit", "iac", iacFixture, "--fail-on", "high", "--output", "json"}, &out, &errOut); code != exitAuditFailed {
		t.Fatalf("json: exit %d, want %d: %s", code, exitAuditFailed, errOut.String())
	}
	if !strings.Contains(out.String(), "noncompliant.yaml") {
		t.Errorf("json report does not name the file:\n%.2000s", out.String())
	}
}

func TestAuditIaC_sarif(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "iac", iacFixture, "--output", "sarif"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var doc struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Kind      string `json:"kind"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("SARIF is not JSON: %v\n%.500s", err, out.String())
	}
	if len(doc.Runs) == 0 || len(doc.Runs[0].Results) == 0 {
		t.Fatalf("no runs[0].results:\n%.2000s", out.String())
	}
	failed := map[string]bool{}
	for _, r := range doc.Runs[0].Results {
		if len(r.Locations) == 0 {
			t.Errorf("%s: no location", r.RuleID)
			continue
		}
		loc := r.Locations[0].PhysicalLocation
		if !strings.HasSuffix(loc.ArtifactLocation.URI, "internal/iac/testdata/noncompliant.yaml") {
			t.Errorf("%s: uri = %q, want the fixture", r.RuleID, loc.ArtifactLocation.URI)
		}
		if loc.Region.StartLine <= 0 {
			t.Errorf("%s: startLine = %d", r.RuleID, loc.Region.StartLine)
		}
		if r.Kind == "fail" {
			failed[r.RuleID] = true
		}
	}
	for _, id := range []string{"GBX-CAP-001", "GBX-ENC-001", "GBX-PUB-001"} {
		if !failed[id] {
			t.Errorf("SARIF has no failing %s result (failing: %v)", id, failed)
		}
	}
}

// TestIaCTemplate_passesAudit proves what glassbox iac template writes passes
// glassbox audit iac at the lowest --fail-on.
func TestIaCTemplate_passesAudit(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		kind      string
		endpoints string // the summary line's start
	}{
		{"sagemaker-endpoint-config", "1 endpoint: 1 with capture enabled (100%), 1 fully compliant (100%), 1 with unchecked facts; findings"},
		// A bucket alone declares no endpoint configuration: it is a
		// capture-bucket subject of its own, and it passes the storage
		// and tag rules.
		{"capture-bucket", "0 endpoints: 0 with capture enabled (0%), 0 fully compliant (0%), 0 with unchecked facts; 1 capture bucket: 1 fully compliant, 0 with unchecked facts; findings"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			var tpl, errOut bytes.Buffer
			if code := run([]string{"iac", "template", "--kind", c.kind, "--format", "cloudformation"}, &tpl, &errOut); code != exitOK {
				t.Fatalf("iac template: exit %d: %s", code, errOut.String())
			}
			path := filepath.Join(dir, c.kind+".yaml")
			if err := os.WriteFile(path, tpl.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			errOut.Reset()
			if code := run([]string{"audit", "iac", path, "--fail-on", "low"}, &out, &errOut); code != exitOK {
				t.Fatalf("audit iac: exit %d, want 0:\n%s\n%s\n--- template ---\n%s", code, out.String(), errOut.String(), tpl.String())
			}
			if !strings.Contains(out.String(), "\n"+c.endpoints) {
				t.Errorf("audit output lacks %q:\n%s", c.endpoints, out.String())
			}
			if strings.Contains(out.String(), " fail ") {
				t.Errorf("a rule fails on the template:\n%s", out.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut.String())
			}
		})
	}
}

func TestIaCTemplate_terraform(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"iac", "template", "--kind", "sagemaker-endpoint-config", "--format", "terraform"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{`resource "aws_sagemaker_endpoint_configuration"`, "data_capture_config {", "kms_key_id", `resource "aws_s3_bucket"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("HCL lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"iac", "template", "--kind", "sagemaker-endpoint-config"}, &out, &errOut); code != exitUsage {
		t.Errorf("no --format: exit %d, want %d", code, exitUsage)
	}
}
