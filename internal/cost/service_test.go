package cost_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/cost"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// listing is an in-memory bucket listing.
type listing []objstore.ObjectInfo

func (l listing) List(_ context.Context, prefix string, fn func(objstore.ObjectInfo) error) error {
	for _, o := range l {
		if len(o.Key) >= len(prefix) && o.Key[:len(prefix)] == prefix {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestService_refreshSetsMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	now := ts("2026-11-22T12:00:00Z")
	o := cost.DefaultOptions()
	o.Budgets = []cost.Budget{{Name: "fraud", Endpoint: "fraud", Monthly: 1e-9}}
	s := cost.NewService(cost.ServiceOptions{
		Bucket: listing{
			{Key: "fraud/v1/2026/11/21/05/00-00-000-a.jsonl", Size: 1000},
			{Key: "fraud/v1/2026/11/22/05/00-00-000-b.jsonl", Size: 500},
			{Key: "reports/x.json", Size: 9},
		},
		Endpoints: func() []cost.Endpoint { return []cost.Endpoint{{Name: "fraud"}, {Name: "quiet"}} },
		Options:   o,
		Metrics:   cost.NewMetrics(reg),
		Now:       func() time.Time { return now },
	})
	res, err := s.Refresh(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.BytesStored != 1500 || len(res.Alerts.Idle) != 1 || !res.Alerts.Budgets[0].Exceeded {
		t.Errorf("result = %+v", res)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			got[name] = m.GetGauge().GetValue()
		}
	}
	if got["glassbox_cost_bytes_stored{fraud}"] != 1500 || got["glassbox_cost_projected_monthly_usd{fraud}"] <= 0 ||
		got["glassbox_cost_idle_endpoints"] != 1 || got["glassbox_cost_budget_ratio{fraud}"] <= 1 {
		t.Errorf("metrics = %v", got)
	}
	if _, err := s.Result(t.Context(), ts("2026-12-01T00:00:00Z"), cost.ByEndpoint); err == nil {
		t.Error("Result(next month) succeeded")
	}
}
