package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/cost"
)

// costReporter prices one endpoint that captured 1 MiB in 10 objects
// yesterday.
type costReporter struct{}

func (costReporter) Result(_ context.Context, month time.Time, by string) (cost.Result, error) {
	now := time.Now().UTC()
	if month.IsZero() {
		month = now
	}
	p, err := cost.NewPeriod(month, now)
	if err != nil {
		return cost.Result{}, err
	}
	rows := []cost.Usage{{Endpoint: "churn", Variant: "v1", Day: now.Truncate(24 * time.Hour).Add(-24 * time.Hour), Bytes: 1 << 20, Objects: 10}}
	eps := []cost.Endpoint{{Name: "churn", Tags: map[string]string{"owner": "ml"}}}
	r, err := cost.NewReport(rows, eps, cost.DefaultPrices(), p, by)
	if err != nil {
		return cost.Result{}, err
	}
	return cost.Result{Report: r, Alerts: cost.Evaluate(rows, eps, cost.DefaultOptions(), p)}, nil
}

func TestCost_get(t *testing.T) {
	e := newEnv(t, nil)
	r := e.get(e.token("viewer"), "/api/v1/cost?by=tag:owner")
	want(t, r, http.StatusOK)
	var res struct {
		By    string `json:"by"`
		Lines []struct {
			Group       string `json:"group"`
			BytesStored int64  `json:"bytes_stored"`
		} `json:"lines"`
		Alerts struct {
			Idle []any `json:"idle"`
		} `json:"alerts"`
	}
	r.json(t, &res)
	if res.By != "tag:owner" || len(res.Lines) != 1 || res.Lines[0].Group != "ml" || res.Lines[0].BytesStored != 1<<20 || res.Alerts.Idle == nil {
		t.Errorf("result = %+v", res)
	}
	for _, q := range []string{"?by=owner", "?month=2026-13", "?month=2999-01"} {
		wantError(t, e.get(e.admin, "/api/v1/cost"+q), http.StatusBadRequest, "")
	}
	e = newEnv(t, func(o *api.Options) { o.Cost = nil })
	wantError(t, e.get(e.admin, "/api/v1/cost"), http.StatusNotImplemented, "reports no cost")
}
