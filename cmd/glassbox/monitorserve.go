package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/notify"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// monitorService runs the monitoring executions of 'glassbox serve': it
// turns a scheduler's Job into a monitor.Run over the blob store's captures
// and writes the report beside them.
type monitorService struct {
	captures objstore.Bucket
	prefix   string // monitoring.reports_prefix
	s3       config.S3
	log      *slog.Logger

	mu    sync.RWMutex
	specs map[string]monitorSpec // by endpoint
}

// apply takes the endpoints now served: their monitor blocks, and the
// schedules the scheduler must run.
func (m *monitorService) apply(eps []config.Endpoint) []monitor.ScheduleSpec {
	specs := make(map[string]monitorSpec, len(eps))
	var sched []monitor.ScheduleSpec
	for i := range eps {
		e := &eps[i]
		specs[e.Name] = endpointMonitorSpec(e)
		for _, s := range e.Monitor.Schedules {
			sched = append(sched, monitor.ScheduleSpec{
				Endpoint: e.Name, Name: s.Name, Expr: s.Cron,
				Window: time.Duration(s.Window), Offset: time.Duration(s.Offset),
			})
		}
	}
	m.mu.Lock()
	m.specs = specs
	m.mu.Unlock()
	return sched
}

// run is the scheduler's RunFunc.
func (m *monitorService) run(ctx context.Context, job monitor.Job) monitor.Outcome {
	m.mu.RLock()
	spec, ok := m.specs[job.Endpoint]
	m.mu.RUnlock()
	if !ok {
		return failed("endpoint %q is no longer served", job.Endpoint)
	}
	if spec.baseline == "" {
		return failed("endpoint %q has no monitor.baseline", job.Endpoint)
	}
	base, err := openLocation(ctx, spec.baseline, m.s3)
	if err != nil {
		return failed("open baseline %s: %v", spec.baseline, err)
	}
	stats, cons, err := monitor.LoadBaseline(ctx, base, "")
	if err != nil {
		return failed("load baseline %s: %v", spec.baseline, err)
	}
	res, err := monitor.Run(ctx, monitor.RunOptions{
		Bucket: m.captures, Endpoint: job.Endpoint,
		Start: job.Start, End: job.End,
		Baseline: stats, Constraints: cons,
		Rows: spec.rows, Drift: spec.drift,
	})
	if err != nil {
		return failed("%v", err)
	}
	// A scheduled run owns the folder of its scheduled hour, as SageMaker
	// lays reports out; a manual run gets its own folder below the hour its
	// window ends in, so it never replaces a scheduled run's report.
	key := monitor.ReportKey(m.prefix, job.Endpoint, job.Schedule, job.ScheduledTime)
	if job.Manual {
		key = monitor.ReportKey(m.prefix, job.Endpoint, job.Schedule, job.End.Add(-time.Nanosecond)) + "/manual-" + job.ExecutionID
	}
	if err := monitor.WriteReport(ctx, m.captures, key, res, cons); err != nil {
		return failed("write report: %v", err)
	}
	out := monitor.Outcome{
		Status:     res.Status,
		Violations: res.Violations.Violations,
		ReportURI:  strings.TrimSuffix(m.captures.String(), "/") + "/" + key,
		Reason:     fmt.Sprintf("%d records, %d rows, %d violations", res.Records, res.Rows, len(res.Violations.Violations)),
	}
	if res.Drift != nil {
		out.Reason += "; drift tests: " + res.Drift.Summary()
	}
	drift := map[string]monitor.FeatureDrift{}
	if res.Drift != nil {
		for _, f := range res.Drift.Features {
			drift[f.Name] = f
		}
	}
	for _, f := range res.Statistics.Features {
		c := commonOf(f)
		sig := monitor.FeatureSignal{Name: f.Name}
		if t := c.NumPresent + c.NumMissing; t > 0 {
			sig.Completeness = float64(c.NumPresent) / float64(t)
		}
		if d, ok := drift[f.Name]; ok {
			sig.Method, sig.Distance, sig.PValue, sig.Threshold, sig.Drifted = d.Method, d.Statistic, d.PValue, d.Threshold, d.Drifted
		}
		out.Features = append(out.Features, sig)
	}
	return out
}

func commonOf(f monitor.FeatureStatistics) monitor.CommonStatistics {
	switch {
	case f.NumericalStatistics != nil:
		return f.NumericalStatistics.Common
	case f.StringStatistics != nil:
		return f.StringStatistics.Common
	}
	return monitor.CommonStatistics{}
}

func failed(format string, args ...any) monitor.Outcome {
	return monitor.Outcome{Status: monitor.ExecutionFailed, Reason: fmt.Sprintf(format, args...)}
}

// webhookTargets translates monitoring.webhooks.
func webhookTargets(cfg *config.Config) []notify.WebhookTarget {
	var ts []notify.WebhookTarget
	for _, w := range cfg.Monitoring.Webhooks {
		ts = append(ts, notify.WebhookTarget{
			Name: w.Name, URL: w.URL, Secret: w.Secret,
			Timeout: time.Duration(w.Timeout), MaxAttempts: w.MaxAttempts,
		})
	}
	return ts
}

// schedulerOwner names this process in execution leases.
func schedulerOwner() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// newScheduler builds the monitor scheduler of 'glassbox serve' with its
// webhook notifier and metrics. Its schedules are set by the endpoint
// reloads.
func newScheduler(cfg *config.Config, st monitor.ExecutionStore, mon *monitorService, reg prometheus.Registerer, log *slog.Logger) (*monitor.Scheduler, error) {
	opts := monitor.SchedulerOptions{
		Store:   st,
		Run:     mon.run,
		Owner:   schedulerOwner(),
		Logger:  log.With("component", "scheduler"),
		Metrics: monitor.NewMetrics(reg),
	}
	if ts := webhookTargets(cfg); len(ts) > 0 {
		wh, err := notify.NewWebhook(notify.WebhookOptions{Targets: ts, Logger: log.With("component", "notify")})
		if err != nil {
			return nil, err
		}
		opts.Notifier = wh
	}
	return monitor.NewScheduler(opts), nil
}
