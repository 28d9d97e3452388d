package cost

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the cost gauges, set from the latest per-endpoint report. A
// nil *Metrics records nothing.
type Metrics struct {
	projected *prometheus.GaugeVec
	stored    *prometheus.GaugeVec
	budget    *prometheus.GaugeVec
	anomalies prometheus.Gauge
	idle      prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, still usable).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		projected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_cost_projected_monthly_usd",
			Help: "Projected cost of the current month's captured data in USD, by endpoint (docs/cost.md).",
		}, []string{"endpoint"}),
		stored: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_cost_bytes_stored",
			Help: "Bytes of capture objects stored in the blob store, by endpoint.",
		}, []string{"endpoint"}),
		budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_cost_budget_ratio",
			Help: "Projected monthly cost divided by the budget, by budget (above 1: exceeded).",
		}, []string{"budget"}),
		anomalies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_cost_anomalies",
			Help: "Endpoints whose captured bytes on the last complete day are anomalous.",
		}),
		idle: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_cost_idle_endpoints",
			Help: "Endpoints without a capture object for cost.idle_days days.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.projected, m.stored, m.budget, m.anomalies, m.idle)
	}
	return m
}

// Set replaces every gauge with what r (grouped by endpoint) and a say.
func (m *Metrics) Set(r Report, a Alerts) {
	if m == nil {
		return
	}
	m.projected.Reset()
	m.stored.Reset()
	for _, l := range r.Lines {
		m.projected.WithLabelValues(l.Group).Set(l.TotalUSD)
		m.stored.WithLabelValues(l.Group).Set(float64(l.BytesStored))
	}
	m.budget.Reset()
	for _, b := range a.Budgets {
		m.budget.WithLabelValues(b.Name).Set(b.Projected / b.Monthly)
	}
	m.anomalies.Set(float64(len(a.Anomalies)))
	m.idle.Set(float64(len(a.Idle)))
}
