package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// complianceReporter reports two fixed endpoints, one without capture.
type complianceReporter struct{ err error }

func (r complianceReporter) ComplianceReport(context.Context) (compliance.Report, error) {
	if r.err != nil {
		return compliance.Report{}, r.err
	}
	on := compliance.Subject{Source: compliance.SourceGlassbox, Name: "churn", Tier: "prod",
		Tags: map[string]string{"owner": "ml", "cost-center": "1"},
		Capture: compliance.Capture{Enabled: compliance.Yes, SamplingPercent: 100, Encryption: compliance.EncryptionEnvelope,
			DestinationPublic: compliance.No, Retention: compliance.Yes},
		Monitored: compliance.Yes, Alerting: compliance.Yes, ModelApproved: compliance.Yes}
	off := on
	off.Name, off.Capture = "legacy", compliance.Capture{Enabled: compliance.No}
	return compliance.Evaluate([]compliance.Subject{on, off}, compliance.Settings{RequiredTags: []string{"owner"}}), nil
}

func TestCompliance_get(t *testing.T) {
	e := newEnv(t, nil)
	r := e.get(e.token("viewer"), "/api/v1/compliance")
	want(t, r, http.StatusOK)
	var rj compliance.ReportJSON
	r.json(t, &rj)
	if rj.Summary.Endpoints != 2 || rj.Summary.CaptureEnabled != 1 || rj.Summary.FullyCompliant != 1 || rj.Counts["fail"] != 1 {
		t.Errorf("summary = %+v counts %v", rj.Summary.GroupJSON, rj.Counts)
	}
	if got := rj.Report().Failing(compliance.Critical); len(got) != 1 || got[0].Subject.Name != "legacy" {
		t.Errorf("failing = %+v", got)
	}
}

func TestCompliance_notSupportedAndErrors(t *testing.T) {
	e := newEnv(t, func(o *api.Options) { o.Compliance = nil })
	r := e.get(e.admin, "/api/v1/compliance")
	wantError(t, r, http.StatusNotImplemented, "no compliance rules")
	e = newEnv(t, func(o *api.Options) { o.Compliance = complianceReporter{err: errors.New("boom")} })
	r = e.get(e.admin, "/api/v1/compliance")
	wantError(t, r, http.StatusInternalServerError, "internal error")
}
