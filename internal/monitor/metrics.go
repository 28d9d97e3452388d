package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the monitor's Prometheus metrics, updated by the Scheduler
// from each finished execution. A nil *Metrics records nothing.
//
// The per-feature and per-check gauges describe the latest finished,
// non-failed execution of an endpoint (whichever of its schedules ran last);
// a Failed execution leaves them as they were.
type Metrics struct {
	driftDistance *prometheus.GaugeVec
	completeness  *prometheus.GaugeVec
	violations    *prometheus.GaugeVec
	lastTimestamp *prometheus.GaugeVec
	lastStatus    *prometheus.GaugeVec
	executions    *prometheus.CounterVec
	notifyErrors  *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, still usable).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		driftDistance: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_monitor_feature_drift_distance",
			Help: "Drift distance of a feature from its baseline in the latest monitoring run, by method.",
		}, []string{"endpoint", "feature", "method"}),
		completeness: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_monitor_feature_completeness_ratio",
			Help: "Share of rows with a value for a feature in the latest monitoring run (0 to 1).",
		}, []string{"endpoint", "feature"}),
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_monitor_violations",
			Help: "Constraint violations found by the latest monitoring run, by constraint check type.",
		}, []string{"endpoint", "check_type"}),
		lastTimestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_monitor_last_execution_timestamp_seconds",
			Help: "When the latest monitoring execution of a schedule finished (Unix seconds).",
		}, []string{"endpoint", "schedule"}),
		lastStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "glassbox_monitor_last_execution_status",
			Help: "1 for the status of the latest monitoring execution of a schedule, 0 for the other statuses.",
		}, []string{"endpoint", "schedule", "status"}),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_monitor_executions_total",
			Help: "Finished monitoring executions run by this process, by final status.",
		}, []string{"endpoint", "schedule", "status"}),
		notifyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_monitor_notification_failures_total",
			Help: "Notifications of monitoring executions that could not be delivered.",
		}, []string{"endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.driftDistance, m.completeness, m.violations, m.lastTimestamp, m.lastStatus,
			m.executions, m.notifyErrors)
	}
	return m
}

// finalStatuses are the statuses of glassbox_monitor_last_execution_status.
var finalStatuses = []string{ExecutionCompleted, ExecutionCompletedWithViolations, ExecutionFailed}

// observe records a finished execution and its outcome.
func (m *Metrics) observe(e Execution, out Outcome) {
	if m == nil {
		return
	}
	m.executions.WithLabelValues(e.Endpoint, e.Schedule, e.Status).Inc()
	m.lastTimestamp.WithLabelValues(e.Endpoint, e.Schedule).Set(float64(e.FinishedAt.UnixMicro()) / 1e6)
	for _, st := range finalStatuses {
		v := 0.0
		if st == e.Status {
			v = 1
		}
		m.lastStatus.WithLabelValues(e.Endpoint, e.Schedule, st).Set(v)
	}
	if e.Status == ExecutionFailed {
		return
	}
	// Replace the endpoint's feature and check series, so features and
	// checks that are gone do not linger.
	ep := prometheus.Labels{"endpoint": e.Endpoint}
	m.driftDistance.DeletePartialMatch(ep)
	m.completeness.DeletePartialMatch(ep)
	m.violations.DeletePartialMatch(ep)
	for _, f := range out.Features {
		if f.Method != "" {
			m.driftDistance.WithLabelValues(e.Endpoint, f.Name, f.Method).Set(f.Distance)
		}
		m.completeness.WithLabelValues(e.Endpoint, f.Name).Set(f.Completeness)
	}
	counts := map[string]int{}
	for _, v := range out.Violations {
		counts[v.ConstraintCheckType]++
	}
	for _, check := range []string{CheckDataType, CheckCompleteness, CheckBaselineDrift, CheckMissingColumn, CheckExtraColumn, CheckCategoricalValue} {
		if _, ok := counts[check]; !ok {
			counts[check] = 0 // present as 0, so alerts can compare
		}
	}
	for check, n := range counts {
		m.violations.WithLabelValues(e.Endpoint, check).Set(float64(n))
	}
}

// notifyFailed counts a notification that was not delivered.
func (m *Metrics) notifyFailed(endpoint string) {
	if m == nil {
		return
	}
	m.notifyErrors.WithLabelValues(endpoint).Inc()
}

// forgetSchedule drops the per-schedule gauges of a removed schedule.
func (m *Metrics) forgetSchedule(endpoint, schedule string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"endpoint": endpoint, "schedule": schedule}
	m.lastTimestamp.DeletePartialMatch(l)
	m.lastStatus.DeletePartialMatch(l)
}
