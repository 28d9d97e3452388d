package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

func TestAudit_table(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "--config", "testdata/audit-mix.yaml"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want, err := os.ReadFile("testdata/audit-mix.table.golden")
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestAudit_failOn(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--fail-on", "critical"}, exitAuditFailed},
		{[]string{"--fail-on", "low", "--output", "json"}, exitAuditFailed},
		{[]string{"--fail-on", "CRITICAL", "--output", "csv"}, exitAuditFailed},
		{nil, exitOK},
		{[]string{"--fail-on", "urgent"}, exitUsage},
		{[]string{"--output", "xml"}, exitUsage},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"audit", "--config", "testdata/audit-mix.yaml"}, c.args...)
		if code := run(args, &out, &errOut); code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, errOut.String())
		}
	}
	// Only high and above fail once the medium and critical rules are
	// re-levelled or the failing endpoints fixed: a passing config exits 0.
	dir := t.TempDir()
	cfg := strings.Replace(mustRead(t, "testdata/audit-mix.yaml"), "compliance:\n  rules:\n",
		"compliance:\n  rules:\n    GBX-CAP-001: {severity: low}\n", 1)
	cfg = strings.Replace(cfg, "prod: {severity: critical}", "prod: {severity: medium}", 1)
	path := dir + "/c.yaml"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "--config", path, "--fail-on", "critical"}, &out, &errOut); code != exitOK {
		t.Errorf("re-levelled: exit %d, want 0: %s", code, errOut.String())
	}
	if code := run([]string{"audit", "--config", path, "--fail-on", "high"}, &out, &errOut); code != exitAuditFailed {
		t.Errorf("re-levelled, --fail-on high: exit %d, want %d (GBX-ENC-001 on fraud)", code, exitAuditFailed)
	}
	if code := run([]string{"audit"}, &out, &errOut); code != exitUsage {
		t.Errorf("no source: exit %d, want %d", code, exitUsage)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAudit_formats(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "--config", "testdata/audit-mix.yaml", "-o", "json"}, &out, &errOut); code != exitOK {
		t.Fatalf("json: exit %d: %s", code, errOut.String())
	}
	var rj compliance.ReportJSON
	if err := json.Unmarshal(out.Bytes(), &rj); err != nil || rj.Summary.Endpoints != 3 || rj.Counts["fail"] != 9 {
		t.Errorf("json: %v %+v", err, rj.Summary)
	}
	out.Reset()
	if code := run([]string{"audit", "--config", "testdata/audit-mix.yaml", "-o", "sarif"}, &out, &errOut); code != exitOK {
		t.Fatalf("sarif: exit %d", code)
	}
	var sarif struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) != 12 {
		t.Fatalf("sarif: %v %+v", err, sarif)
	}
	// legacy's GBX-CAP-001 points at its declaration in the file.
	var loc struct {
		ArtifactLocation struct{ URI string }
		Region           struct{ StartLine int }
	}
	for _, r := range sarif.Runs[0].Results {
		if r.RuleID == "GBX-CAP-001" {
			loc = r.Locations[0].PhysicalLocation
		}
	}
	if loc.ArtifactLocation.URI != "testdata/audit-mix.yaml" || loc.Region.StartLine != 23 {
		t.Errorf("sarif location = %+v, want testdata/audit-mix.yaml line 23", loc)
	}
	out.Reset()
	if code := run([]string{"audit", "--config", "testdata/audit-mix.yaml", "-o", "csv"}, &out, &errOut); code != exitOK {
		t.Fatalf("csv: exit %d", code)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != 1+3*len(compliance.Rules()) {
		t.Errorf("csv: %v, %d rows", err, len(rows))
	}
}

func TestGlassboxSubject(t *testing.T) {
	cfg, err := config.LoadAudit("testdata/audit-mix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ss := glassboxSubjects(cfg)
	churn, fraud := ss[0], ss[2]
	if churn.Capture.Encryption != compliance.EncryptionEnvelope || churn.Monitored != compliance.Yes || churn.Alerting != compliance.Yes ||
		churn.Capture.Retention != compliance.Yes || churn.Capture.Destination != "file:///var/lib/glassbox/data/churn" || churn.Capture.DestinationPublic != compliance.No {
		t.Errorf("churn = %+v", churn)
	}
	if fraud.Capture.Encryption != compliance.EncryptionNone || fraud.Monitored != compliance.No || fraud.Alerting != compliance.No {
		t.Errorf("fraud = %+v", fraud)
	}
	for _, c := range []struct {
		s3   config.S3
		want string
	}{
		{config.S3{SSE: "kms", KMSKeyID: "arn:aws:kms:eu-west-1:1:key/abc"}, compliance.EncryptionKMSCMK},
		{config.S3{SSE: "kms"}, compliance.EncryptionSSEKMS},
		{config.S3{SSE: "kms", KMSKeyID: "alias/aws/s3"}, compliance.EncryptionSSEKMS},
		{config.S3{SSE: "aes256"}, compliance.EncryptionSSES3},
		{config.S3{SSE: "none"}, compliance.EncryptionNone},
	} {
		c2 := *cfg
		c2.Storage.Blob = "s3://bucket/captures"
		c2.Storage.S3 = c.s3
		s := glassboxSubject(&c2, &c2.Endpoints[2])
		if s.Capture.Encryption != c.want || s.Capture.DestinationPublic != compliance.Unknown || s.Unchecked[compliance.FactDestinationPublic] == "" ||
			s.Capture.Destination != "s3://bucket/captures/fraud" {
			t.Errorf("%+v: %+v", c.s3, s.Capture)
		}
	}
}

// The config package mirrors the rule ids (it may not import compliance).
func TestComplianceRuleIDs(t *testing.T) {
	if got := compliance.RuleIDs(); !slices.Equal(got, config.ComplianceRuleIDs) {
		t.Errorf("config.ComplianceRuleIDs = %v, want %v", config.ComplianceRuleIDs, got)
	}
	var sevs []string
	for _, s := range compliance.Severities() {
		sevs = append(sevs, s.String())
	}
	if !slices.Equal(sevs, config.ComplianceSeverities) {
		t.Errorf("config.ComplianceSeverities = %v, want %v", config.ComplianceSeverities, sevs)
	}
}

// storeOf serves fixed endpoint records.
type storeOf struct {
	endpoints.Store
	recs []endpoints.Record
}

func (s storeOf) ListEndpoints(context.Context) ([]endpoints.Record, error) { return s.recs, nil }

func enforcingConfig(t *testing.T) *config.Config {
	t.Helper()
	doc := strings.Replace(mustRead(t, "testdata/audit-mix.yaml"), "compliance:\n  rules:\n",
		"compliance:\n  rules:\n    GBX-CAP-001: {enforce: true, tiers: {sandbox: {enabled: false}}}\n", 1)
	cfg, err := config.ParseAudit([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestCompliance_enforce(t *testing.T) {
	cfg := enforcingConfig(t)
	comp, err := newComplianceService(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &endpointService{keysEnabled: true, compliance: comp}
	_, err = svc.Prepare([]byte(`{"name": "x", "tags": {"tier": "prod"}, "variants": [{"name": "A", "upstream": "http://127.0.0.1:1"}], "capture": {"enabled": false}}`))
	if glassbox.ErrorCode(err) != glassbox.EInvalid || !strings.Contains(err.Error(), "GBX-CAP-001") {
		t.Errorf("Prepare(capture off) = %v, want EInvalid naming GBX-CAP-001", err)
	}
	// Not enforced for the sandbox tier (disabled there), nor for rules
	// that are not enforced (GBX-TAG-001 fails here).
	if _, err := svc.Prepare([]byte(`{"name": "x", "tags": {"tier": "sandbox"}, "variants": [{"name": "A", "upstream": "http://127.0.0.1:1"}], "capture": {"enabled": false}}`)); err != nil {
		t.Errorf("Prepare(sandbox) = %v", err)
	}
	if err := enforceCompliance(cfg); err == nil || !strings.Contains(err.Error(), "legacy") {
		t.Errorf("enforceCompliance = %v, want legacy refused", err)
	}
}

func TestCompliance_reportAndGauges(t *testing.T) {
	cfg := enforcingConfig(t)
	var recs []endpoints.Record
	for i := range cfg.Endpoints {
		b, err := config.MarshalEndpoint(&cfg.Endpoints[i])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, endpoints.Record{Name: cfg.Endpoints[i].Name, Spec: b})
	}
	comp, err := newComplianceService(cfg, storeOf{recs: recs})
	if err != nil {
		t.Fatal(err)
	}
	r, err := comp.ComplianceReport(context.Background())
	if err != nil || r.Summary.Totals.Endpoints != 3 || len(r.Failing(compliance.Low)) != 9 {
		t.Fatalf("report: %v %+v", err, r.Summary.Totals)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newComplianceCollector(comp))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var l []string
			for _, lp := range m.GetLabel() {
				l = append(l, lp.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(l, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	for k, v := range map[string]float64{
		"glassbox_compliance_endpoints{all,,}":                        3,
		"glassbox_compliance_capture_enabled_ratio{tier,,prod}":       1,
		"glassbox_compliance_capture_enabled_ratio{tier,,dev}":        0,
		"glassbox_compliance_fully_compliant_ratio{tag,owner,ml}":     0.5,
		"glassbox_compliance_fully_compliant_ratio{source,,glassbox}": 1.0 / 3,
		"glassbox_compliance_up{}":                                    1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

func TestAudit_server(t *testing.T) {
	cfg, err := config.LoadAudit("testdata/audit-mix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := complianceSettings(cfg)
	rep := compliance.Evaluate(glassboxSubjects(cfg), st)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/compliance" || r.Header.Get("Authorization") != "Bearer gbx_t" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(rep.JSON())
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run([]string{"audit", "--server", srv.URL, "--token", "gbx_t", "--fail-on", "critical"}, &out, &errOut)
	if code != exitAuditFailed {
		t.Fatalf("exit %d, want %d: %s", code, exitAuditFailed, errOut.String())
	}
	if want := mustRead(t, "testdata/audit-mix.table.golden"); out.String() != want {
		t.Errorf("table from the server:\n%s\nwant:\n%s", out.String(), want)
	}
	if code := run([]string{"audit", "--server", srv.URL, "--token", "gbx_t", "--config", "x.yaml"}, &out, &errOut); code != exitUsage {
		t.Errorf("--server with --config: exit %d, want %d", code, exitUsage)
	}
}
