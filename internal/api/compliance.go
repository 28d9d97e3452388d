package api

import (
	"context"
	"net/http"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// ComplianceReporter evaluates the compliance rules on the endpoints the
// store holds now; cmd/glassbox implements it (stored declarations →
// compliance.Subject, configured rule settings).
type ComplianceReporter interface {
	ComplianceReport(ctx context.Context) (compliance.Report, error)
}

// getCompliance serves GET /compliance: the compliance report of every
// endpoint (compliance.ReportJSON, docs/compliance.md).
func (a *API) getCompliance(c *call, w http.ResponseWriter, r *http.Request) error {
	if a.opts.Compliance == nil {
		return glassbox.Errorf(glassbox.ENotSupported, "this server evaluates no compliance rules")
	}
	rep, err := a.opts.Compliance.ComplianceReport(r.Context())
	if err != nil {
		return err
	}
	c.detail("endpoints=%d failed=%d", rep.Summary.Totals.Endpoints, rep.Count(compliance.StatusFail))
	writeJSON(w, http.StatusOK, rep.JSON())
	return nil
}
