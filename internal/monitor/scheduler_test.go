package monitor_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// memStore is an in-memory monitor.ExecutionStore with the contract's
// claim rules; the SQL implementations are tested in internal/store.
type memStore struct {
	mu   sync.Mutex
	rows []*memRow
}

type memRow struct {
	e     monitor.Execution
	lease time.Time
}

func (s *memStore) ClaimExecution(_ context.Context, e monitor.Execution, leaseUntil time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		if r.e.Endpoint == e.Endpoint && r.e.Schedule == e.Schedule && r.e.ScheduledTime.Equal(e.ScheduledTime) && r.e.Manual == e.Manual {
			if r.e.Status != monitor.ExecutionInProgress || r.lease.After(e.StartedAt) {
				return false, nil
			}
			created := r.e.CreatedAt
			r.e, r.lease = e, leaseUntil
			r.e.CreatedAt = created
			return true, nil
		}
	}
	s.rows = append(s.rows, &memRow{e: e, lease: leaseUntil})
	return true, nil
}

func (s *memStore) FinishExecution(_ context.Context, e monitor.Execution) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		if r.e.ID == e.ID {
			r.e.Status, r.e.Reason, r.e.Violations, r.e.ReportURI, r.e.FinishedAt = e.Status, e.Reason, e.Violations, e.ReportURI, e.FinishedAt
			r.e.ViolationList, r.e.Features, r.e.ViolationsByCheck = e.ViolationList, e.Features, e.ViolationsByCheck
			return nil
		}
	}
	return glassbox.Errorf(glassbox.ENotFound, "no execution %s", e.ID)
}

func (s *memStore) ListExecutions(_ context.Context, f monitor.ExecutionFilter) ([]monitor.Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []monitor.Execution
	for _, r := range s.rows {
		if (f.Endpoint == "" || f.Endpoint == r.e.Endpoint) && (f.Schedule == "" || f.Schedule == r.e.Schedule) && (f.Status == "" || f.Status == r.e.Status) {
			out = append(out, r.e)
		}
	}
	slices.SortFunc(out, func(a, b monitor.Execution) int { return b.ScheduledTime.Compare(a.ScheduledTime) })
	return out, nil
}

func (s *memStore) GetExecution(_ context.Context, id string) (monitor.Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		if r.e.ID == id {
			return r.e, nil
		}
	}
	return monitor.Execution{}, glassbox.Errorf(glassbox.ENotFound, "no execution %s", id)
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// notifier records notifications.
type notifier struct {
	mu   sync.Mutex
	got  []monitor.Notification
	fail bool
}

func (n *notifier) Notify(_ context.Context, x monitor.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, x)
	if n.fail {
		return errors.New("receiver down")
	}
	return nil
}

func (n *notifier) list() []monitor.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// recorder is a RunFunc that records jobs and answers with outcome.
type recorder struct {
	mu      sync.Mutex
	jobs    []monitor.Job
	outcome func(monitor.Job) monitor.Outcome
}

func (r *recorder) run(_ context.Context, j monitor.Job) monitor.Outcome {
	r.mu.Lock()
	r.jobs = append(r.jobs, j)
	f := r.outcome
	r.mu.Unlock()
	if f == nil {
		return monitor.Outcome{Status: monitor.ExecutionCompleted}
	}
	return f(j)
}

func (r *recorder) list() []monitor.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.jobs)
}

type fixture struct {
	store *memStore
	clock *clock
	rec   *recorder
	note  *notifier
	reg   *prometheus.Registry
	s     *monitor.Scheduler
}

func newFixture(t *testing.T, now time.Time, specs ...monitor.ScheduleSpec) *fixture {
	t.Helper()
	f := &fixture{store: &memStore{}, clock: &clock{t: now}, rec: &recorder{}, note: &notifier{}, reg: prometheus.NewRegistry()}
	f.s = monitor.NewScheduler(monitor.SchedulerOptions{Store: f.store, Run: f.rec.run, Notifier: f.note,
		Owner: "test", Now: f.clock.Now, Tick: time.Millisecond, Metrics: monitor.NewMetrics(f.reg)})
	if err := f.s.Apply(specs); err != nil {
		t.Fatal(err)
	}
	return f
}

var hourly = monitor.ScheduleSpec{Endpoint: "churn", Name: "hourly", Expr: "cron(0 * ? * * *)"}

func TestScheduler_RunDue(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	ctx := t.Context()

	// On start: the most recent slot (10:00), not every missed one.
	if n := f.s.RunDue(ctx); n != 1 {
		t.Fatalf("RunDue = %d, want 1", n)
	}
	if n := f.s.RunDue(ctx); n != 0 {
		t.Fatalf("second RunDue at the same time = %d, want 0", n)
	}
	f.clock.Set(at(10, 11, 0))
	f.s.RunDue(ctx)
	// The loop fell 3 slots behind: only the latest runs.
	f.clock.Set(at(10, 14, 20))
	f.s.RunDue(ctx)

	var got []time.Time
	for _, j := range f.rec.list() {
		got = append(got, j.ScheduledTime)
		if !j.End.Equal(j.ScheduledTime) || j.End.Sub(j.Start) != time.Hour || j.ExecutionID == "" || j.Manual {
			t.Errorf("job %+v: want window [T-1h, T), an id, not manual", j)
		}
	}
	want := []time.Time{at(10, 10, 0), at(10, 11, 0), at(10, 14, 0)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("slots run = %v, want %v", got, want)
	}
	execs, _ := f.store.ListExecutions(ctx, monitor.ExecutionFilter{})
	if len(execs) != 3 || execs[0].Status != monitor.ExecutionCompleted || execs[0].Owner != "test" || execs[0].FinishedAt.IsZero() {
		t.Errorf("executions = %+v", execs)
	}
	if n := len(f.note.list()); n != 0 {
		t.Errorf("%d notifications for clean runs, want 0", n)
	}
}

func TestScheduler_newScheduleBeforeFirstSlot(t *testing.T) {
	// A daily schedule seen at 11:00 has a most recent slot (yesterday
	// 12:00): it runs at once, then at 12:00.
	daily := monitor.ScheduleSpec{Endpoint: "churn", Name: "daily", Expr: "cron(0 12 ? * * *)", Window: 2 * time.Hour, Offset: 30 * time.Minute}
	f := newFixture(t, at(10, 11, 0), daily)
	f.s.RunDue(t.Context())
	f.clock.Set(at(10, 12, 0))
	f.s.RunDue(t.Context())
	jobs := f.rec.list()
	if len(jobs) != 2 || !jobs[0].ScheduledTime.Equal(at(9, 12, 0)) || !jobs[1].ScheduledTime.Equal(at(10, 12, 0)) {
		t.Fatalf("jobs = %+v", jobs)
	}
	if !jobs[1].Start.Equal(at(10, 9, 30)) || !jobs[1].End.Equal(at(10, 11, 30)) {
		t.Errorf("window = [%v, %v), want [09:30, 11:30)", jobs[1].Start, jobs[1].End)
	}
}

func TestScheduler_outcomes(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	viol := []monitor.Violation{
		{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift, Description: "drifted"},
		{FeatureName: "plan", ConstraintCheckType: monitor.CheckCompleteness, Description: "missing"},
	}
	outcomes := []monitor.Outcome{
		// "Completed" with violations is recorded as CompletedWithViolations.
		{Status: monitor.ExecutionCompleted, Violations: viol, ReportURI: "file:///r/1",
			Features: []monitor.FeatureSignal{{Name: "age", Method: "psi", Distance: 0.3, Completeness: 0.9}}},
		{Status: monitor.ExecutionFailed, Reason: "Job inputs had no data"},
		{Status: "Exploded"},
		{Status: monitor.ExecutionCompleted},
	}
	var i atomic.Int32
	f.rec.outcome = func(monitor.Job) monitor.Outcome {
		n := i.Add(1) - 1
		if n == 4 {
			panic("analyzer bug")
		}
		return outcomes[n]
	}
	for h := 10; h <= 14; h++ {
		f.clock.Set(at(10, h, 0))
		f.s.RunDue(t.Context())
	}
	execs, _ := f.store.ListExecutions(t.Context(), monitor.ExecutionFilter{})
	slices.Reverse(execs) // oldest first
	wantStatus := []string{monitor.ExecutionCompletedWithViolations, monitor.ExecutionFailed, monitor.ExecutionFailed,
		monitor.ExecutionCompleted, monitor.ExecutionFailed}
	if len(execs) != len(wantStatus) {
		t.Fatalf("%d executions, want %d", len(execs), len(wantStatus))
	}
	for k, e := range execs {
		if e.Status != wantStatus[k] {
			t.Errorf("execution %d status %q (%s), want %q", k, e.Status, e.Reason, wantStatus[k])
		}
	}
	if execs[0].Violations != 2 || execs[0].ReportURI != "file:///r/1" {
		t.Errorf("execution 0 = %+v", execs[0])
	}
	if !strings.Contains(execs[2].Reason, `unknown status "Exploded"`) || !strings.Contains(execs[4].Reason, "panicked: analyzer bug") {
		t.Errorf("reasons %q, %q", execs[2].Reason, execs[4].Reason)
	}

	// Notified: the violations and the three failures, not the clean run.
	notes := f.note.list()
	if len(notes) != 4 {
		t.Fatalf("%d notifications, want 4", len(notes))
	}
	n := notes[0]
	if n.Type != monitor.NotificationType || n.Execution.ID != execs[0].ID || n.ViolationsByCheck[monitor.CheckBaselineDrift] != 1 ||
		len(n.Violations) != 2 || !strings.Contains(n.Summary, "2 violation(s)") {
		t.Errorf("notification = %+v", n)
	}
	if !strings.Contains(notes[1].Summary, "failed") || !strings.Contains(notes[1].Summary, "no data") {
		t.Errorf("failure summary %q", notes[1].Summary)
	}

	// Metrics.
	if v := metricValue(t, f.reg, "glassbox_monitor_executions_total", map[string]string{"status": monitor.ExecutionFailed}); v != 3 {
		t.Errorf("failed executions = %v, want 3", v)
	}
	if v := metricValue(t, f.reg, "glassbox_monitor_last_execution_status", map[string]string{"status": monitor.ExecutionFailed}); v != 1 {
		t.Errorf("last status Failed = %v, want 1", v)
	}
	if v := metricValue(t, f.reg, "glassbox_monitor_last_execution_status", map[string]string{"status": monitor.ExecutionCompleted}); v != 0 {
		t.Errorf("last status Completed = %v, want 0", v)
	}
	// The clean run at 13:00 replaced the features and checks of the run
	// with violations; the failure after it left them alone.
	if v := metricValue(t, f.reg, "glassbox_monitor_violations", map[string]string{"check_type": monitor.CheckBaselineDrift}); v != 0 {
		t.Errorf("drift violations = %v, want 0", v)
	}
	if n := seriesCount(t, f.reg, "glassbox_monitor_feature_drift_distance"); n != 0 {
		t.Errorf("%d drift series after a run without features, want 0", n)
	}
	if v := metricValue(t, f.reg, "glassbox_monitor_last_execution_timestamp_seconds", nil); v != float64(at(10, 14, 0).Unix()) {
		t.Errorf("last timestamp = %v", v)
	}
}

// metricValue returns the value of the one series of name whose labels
// include want.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

// seriesCount returns how many series name has.
func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func TestScheduler_metricsFeatures(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	f.rec.outcome = func(monitor.Job) monitor.Outcome {
		return monitor.Outcome{Status: monitor.ExecutionCompletedWithViolations,
			Violations: []monitor.Violation{{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift}},
			Features:   []monitor.FeatureSignal{{Name: "age", Method: "psi", Distance: 0.31, Completeness: 0.97}}}
	}
	f.s.RunDue(t.Context())
	if v := metricValue(t, f.reg, "glassbox_monitor_feature_drift_distance", map[string]string{"endpoint": "churn", "feature": "age", "method": "psi"}); v != 0.31 {
		t.Errorf("drift = %v", v)
	}
	if v := metricValue(t, f.reg, "glassbox_monitor_feature_completeness_ratio", map[string]string{"feature": "age"}); v != 0.97 {
		t.Errorf("completeness = %v", v)
	}
	if v := metricValue(t, f.reg, "glassbox_monitor_violations", map[string]string{"check_type": monitor.CheckBaselineDrift}); v != 1 {
		t.Errorf("violations = %v", v)
	}
	// Removing the schedule drops its per-schedule series.
	if err := f.s.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if n := seriesCount(t, f.reg, "glassbox_monitor_last_execution_status"); n != 0 {
		t.Errorf("%d status series after removing the schedule", n)
	}
}

func TestScheduler_notifyFailureIsCounted(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	f.note.fail = true
	f.rec.outcome = func(monitor.Job) monitor.Outcome {
		return monitor.Outcome{Status: monitor.ExecutionFailed, Reason: "x"}
	}
	f.s.RunDue(t.Context())
	if v := metricValue(t, f.reg, "glassbox_monitor_notification_failures_total", nil); v != 1 {
		t.Errorf("notification failures = %v, want 1", v)
	}
}

func TestScheduler_Apply(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	bad := [][]monitor.ScheduleSpec{
		{hourly, hourly},
		{{Endpoint: "churn", Name: "x", Expr: "* * * * *"}},
		{{Endpoint: "", Name: "x", Expr: "@hourly"}},
		{{Endpoint: "churn", Name: "x", Expr: "@hourly", Window: -time.Hour}},
		{{Endpoint: "churn", Name: "x", Expr: "@hourly", Window: monitor.MaxScheduleWindow + time.Hour}},
		{{Endpoint: "churn", Name: "x", Expr: "cron(0 0 1 * ? *)"}}, // monthly: window must be set
	}
	for _, specs := range bad {
		if err := f.s.Apply(specs); err == nil {
			t.Errorf("Apply(%+v) succeeded", specs)
		}
	}
	if got := f.s.Schedules(); len(got) != 1 || got[0] != hourly {
		t.Errorf("after failed applies Schedules() = %+v, want the old set", got)
	}
	f.s.RunDue(t.Context())
	// Re-applying an unchanged schedule keeps its progress: no re-run.
	daily := monitor.ScheduleSpec{Endpoint: "churn", Name: "daily", Expr: "@daily"}
	if err := f.s.Apply([]monitor.ScheduleSpec{daily, hourly}); err != nil {
		t.Fatal(err)
	}
	if got := f.s.Schedules(); len(got) != 2 || got[0].Name != "daily" {
		t.Errorf("Schedules() = %+v, want sorted", got)
	}
	f.s.RunDue(t.Context())
	jobs := f.rec.list()
	if len(jobs) != 2 || jobs[1].Schedule != "daily" || !jobs[1].ScheduledTime.Equal(at(10, 0, 0)) {
		t.Errorf("jobs = %+v, want hourly 10:00 then daily 00:00", jobs)
	}
}

func TestScheduler_RunNow(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	ctx := t.Context()
	e, err := f.s.RunNow(ctx, "churn", "hourly", at(9, 0, 0), at(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Manual || e.Status != monitor.ExecutionCompleted || !e.Start.Equal(at(9, 0, 0)) || !e.End.Equal(at(10, 0, 0)) ||
		!e.ScheduledTime.Equal(at(10, 10, 30)) || e.FinishedAt.IsZero() {
		t.Errorf("execution = %+v", e)
	}
	if got, _ := f.store.GetExecution(ctx, e.ID); got.Status != monitor.ExecutionCompleted || !got.Manual {
		t.Errorf("stored = %+v", got)
	}
	// A second manual run at the same instant conflicts.
	if _, err := f.s.RunNow(ctx, "churn", "hourly", at(9, 0, 0), at(10, 0, 0)); glassbox.ErrorCode(err) != glassbox.EConflict {
		t.Errorf("same-instant RunNow: %v, want conflict", err)
	}
	// A manual run does not take the scheduled slot.
	f.clock.Set(at(10, 11, 0))
	if n := f.s.RunDue(ctx); n != 1 {
		t.Errorf("RunDue after a manual run = %d, want 1", n)
	}

	tests := []struct {
		endpoint, schedule string
		start, end         time.Time
		code               string
	}{
		{"churn", "nope", at(9, 0, 0), at(10, 0, 0), glassbox.ENotFound},
		{"other", "hourly", at(9, 0, 0), at(10, 0, 0), glassbox.ENotFound},
		{"churn", "hourly", at(10, 0, 0), at(10, 0, 0), glassbox.EInvalid},
		{"churn", "hourly", at(10, 0, 0), at(9, 0, 0), glassbox.EInvalid},
		{"churn", "hourly", at(1, 0, 0), at(10, 0, 0), glassbox.EInvalid},    // longer than a week
		{"churn", "hourly", at(10, 10, 0), at(10, 12, 0), glassbox.EInvalid}, // ends in the future
	}
	for _, tt := range tests {
		_, err := f.s.RunNow(ctx, tt.endpoint, tt.schedule, tt.start, tt.end)
		if code := glassbox.ErrorCode(err); code != tt.code {
			t.Errorf("RunNow(%s, %s, %v, %v) = %v, want code %s", tt.endpoint, tt.schedule, tt.start, tt.end, err, tt.code)
		}
	}
}

func TestScheduler_takesOverExpiredLease(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	// A crashed process claimed 10:00 with a lease until 10:45.
	dead := monitor.Execution{ID: "dead", Endpoint: "churn", Schedule: "hourly", ScheduledTime: at(10, 10, 0),
		Status: monitor.ExecutionInProgress, Owner: "crashed", CreatedAt: at(10, 10, 0), StartedAt: at(10, 10, 0)}
	if ok, _ := f.store.ClaimExecution(t.Context(), dead, at(10, 10, 45)); !ok {
		t.Fatal("seed claim failed")
	}
	if n := f.s.RunDue(t.Context()); n != 0 {
		t.Fatalf("RunDue while the lease holds = %d, want 0", n)
	}
	// After the lease, a restarted process takes the slot over.
	f.clock.Set(at(10, 10, 50))
	s2 := monitor.NewScheduler(monitor.SchedulerOptions{Store: f.store, Run: f.rec.run, Owner: "restarted", Now: f.clock.Now})
	if err := s2.Apply([]monitor.ScheduleSpec{hourly}); err != nil {
		t.Fatal(err)
	}
	if n := s2.RunDue(t.Context()); n != 1 {
		t.Fatalf("RunDue after the lease expired = %d, want 1", n)
	}
	execs, _ := f.store.ListExecutions(t.Context(), monitor.ExecutionFilter{})
	if len(execs) != 1 || execs[0].ID == "dead" || execs[0].Owner != "restarted" || execs[0].Status != monitor.ExecutionCompleted ||
		!execs[0].CreatedAt.Equal(at(10, 10, 0)) {
		t.Fatalf("executions = %+v", execs)
	}
}

func TestScheduler_Run(t *testing.T) {
	c := &clock{t: at(10, 10, 30)}
	rec := &recorder{}
	release := make(chan struct{})
	var started atomic.Int32
	rec.outcome = func(j monitor.Job) monitor.Outcome {
		started.Add(1)
		<-release
		return monitor.Outcome{Status: monitor.ExecutionCompleted}
	}
	st := &memStore{}
	s := monitor.NewScheduler(monitor.SchedulerOptions{Store: st, Run: rec.run, Now: c.Now, Tick: time.Millisecond})
	if err := s.Apply([]monitor.ScheduleSpec{hourly}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, func() bool { return started.Load() == 1 })
	close(release)
	waitFor(t, func() bool {
		ex, _ := st.ListExecutions(t.Context(), monitor.ExecutionFilter{Status: monitor.ExecutionCompleted})
		return len(ex) == 1
	})
	c.Set(at(10, 11, 0))
	waitFor(t, func() bool { return len(rec.list()) == 2 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestScheduler_twoSchedulersOneStore(t *testing.T) {
	st := &memStore{}
	c := &clock{t: at(10, 0, 30)}
	var runs sync.Map
	var total atomic.Int32
	run := func(_ context.Context, j monitor.Job) monitor.Outcome {
		total.Add(1)
		if _, dup := runs.LoadOrStore(j.ScheduledTime, true); dup {
			t.Errorf("slot %v ran twice", j.ScheduledTime)
		}
		return monitor.Outcome{Status: monitor.ExecutionCompleted}
	}
	var ss []*monitor.Scheduler
	for _, owner := range []string{"a", "b"} {
		s := monitor.NewScheduler(monitor.SchedulerOptions{Store: st, Run: run, Owner: owner, Now: c.Now})
		if err := s.Apply([]monitor.ScheduleSpec{hourly}); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	for h := range 24 {
		c.Set(at(10, 0, 30).Add(time.Duration(h) * time.Hour))
		var wg sync.WaitGroup
		for _, s := range ss {
			wg.Go(func() { s.RunDue(t.Context()) })
		}
		wg.Wait()
	}
	if total.Load() != 24 {
		t.Errorf("%d runs, want 24", total.Load())
	}
}

// TestScheduler_executionDetails: a finished execution carries its
// outcome's violations, features and counts by check; non-finite numbers
// are made finite; the notification's execution has no details.
func TestScheduler_executionDetails(t *testing.T) {
	f := newFixture(t, at(10, 10, 30), hourly)
	p := 0.003
	viol := []monitor.Violation{
		{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift, Description: "drifted"},
		{FeatureName: "plan", ConstraintCheckType: monitor.CheckBaselineDrift, Description: "drifted"},
		{FeatureName: "plan", ConstraintCheckType: monitor.CheckCompleteness, Description: "missing"},
	}
	feats := []monitor.FeatureSignal{
		{Name: "age", Method: "ks", Distance: 0.4, PValue: &p, Threshold: 0.05, Drifted: true, Completeness: 1},
		{Name: "plan", Method: "psi", Distance: math.Inf(1), Threshold: 0.2, Drifted: true, Completeness: 0.8},
		{Name: "nan", Method: "chisquare", Distance: math.NaN(), PValue: new(math.NaN()), Threshold: 0.05, Completeness: 1},
		{Name: "id", Completeness: 1},
	}
	f.rec.outcome = func(monitor.Job) monitor.Outcome {
		return monitor.Outcome{Status: monitor.ExecutionCompletedWithViolations, Violations: viol, Features: feats}
	}
	f.s.RunDue(t.Context())
	execs, _ := f.store.ListExecutions(t.Context(), monitor.ExecutionFilter{})
	if len(execs) != 1 {
		t.Fatalf("%d executions", len(execs))
	}
	e := execs[0]
	wantFeats := []monitor.FeatureSignal{
		feats[0],
		{Name: "plan", Method: "psi", Distance: math.MaxFloat64, Threshold: 0.2, Drifted: true, Completeness: 0.8},
		{Name: "nan", Method: "chisquare", Threshold: 0.05, Completeness: 1},
		feats[3],
	}
	if diff := cmp.Diff(wantFeats, e.Features); diff != "" {
		t.Errorf("features (-want +got):\n%s", diff)
	}
	if !math.IsInf(feats[1].Distance, 1) {
		t.Error("the outcome's features were changed")
	}
	if diff := cmp.Diff(viol, e.ViolationList); diff != "" {
		t.Errorf("violation list (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{monitor.CheckBaselineDrift: 2, monitor.CheckCompleteness: 1}, e.ViolationsByCheck); diff != "" {
		t.Errorf("violations by check (-want +got):\n%s", diff)
	}
	notes := f.note.list()
	if len(notes) != 1 {
		t.Fatalf("%d notifications", len(notes))
	}
	n := notes[0]
	if n.Execution.ViolationList != nil || n.Execution.Features != nil || n.Execution.ViolationsByCheck != nil {
		t.Errorf("notification execution has details: %+v", n.Execution)
	}
	if len(n.Violations) != 3 || len(n.Features) != 4 || n.ViolationsByCheck[monitor.CheckBaselineDrift] != 2 {
		t.Errorf("notification = %+v", n)
	}
	if _, err := json.Marshal(e); err != nil {
		t.Errorf("encode execution: %v", err)
	}

	// A clean run has no details.
	f.rec.outcome = nil
	f.clock.Set(at(10, 11, 0))
	f.s.RunDue(t.Context())
	execs, _ = f.store.ListExecutions(t.Context(), monitor.ExecutionFilter{})
	if e := execs[0]; e.ViolationList != nil || e.Features != nil || e.ViolationsByCheck != nil {
		t.Errorf("clean execution = %+v", e)
	}
}
