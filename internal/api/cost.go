package api

import (
	"context"
	"net/http"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/cost"
)

// CostReporter computes cost results from the blob store (cost.Service
// implements it).
type CostReporter interface {
	Result(ctx context.Context, month time.Time, by string) (cost.Result, error)
}

// getCost serves GET /cost?by=endpoint|variant|day|tag:KEY&month=YYYY-MM:
// captured volume, projected monthly cost, budgets, anomalies and idle
// endpoints (docs/cost.md), the document of 'glassbox cost report -o json'.
func (a *API) getCost(c *call, w http.ResponseWriter, r *http.Request) error {
	if a.opts.Cost == nil {
		return glassbox.Errorf(glassbox.ENotSupported, "this server reports no cost")
	}
	q := r.URL.Query()
	by := q.Get("by")
	if by == "" {
		by = cost.ByEndpoint
	}
	if !cost.ValidBy(by) {
		return glassbox.Errorf(glassbox.EInvalid, "by must be endpoint, variant, day or tag:KEY, not %q", by)
	}
	var month time.Time
	if m := q.Get("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			return glassbox.Errorf(glassbox.EInvalid, "month must be YYYY-MM, not %q", m)
		}
		if _, err := cost.NewPeriod(t, a.opts.Now()); err != nil {
			return glassbox.Errorf(glassbox.EInvalid, "month: %v", err)
		}
		month = t
	}
	res, err := a.opts.Cost.Result(r.Context(), month, by)
	if err != nil {
		return err
	}
	c.detail("by=%s month=%s total_usd=%.4f", by, res.Month, res.Total.TotalUSD)
	writeJSON(w, http.StatusOK, res)
	return nil
}
