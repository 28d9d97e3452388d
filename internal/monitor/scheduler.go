package monitor

// This file runs monitoring schedules: it decides when each (endpoint,
// schedule) slot is due, makes sure one process runs it (ExecutionStore's
// claim), runs it through a RunFunc that cmd/glassbox provides, records the
// outcome, updates metrics and notifies.
//
// Rules, for operators:
//   - On start (and for a schedule added by Apply), only the most recent
//     slot at or before now is run, not every slot missed while the process
//     was down: a monitoring report on stale data helps nobody, and a
//     missed window can be analysed by hand (RunNow). The same holds when
//     the loop falls behind by more than one slot.
//   - A slot runs once across every process sharing the store. A slot whose
//     execution failed is not retried automatically; run it by hand.
//   - A claim is a lease: the run's context ends when the lease does, and
//     a process that finds an InProgress slot whose lease has expired (its
//     owner crashed) takes it over and runs it again.
//   - Executions that end CompletedWithViolations or Failed are notified
//     (a Failed run usually means no data reached the monitor, which
//     someone must look at); Completed ones are not.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/glassbox-dev/glassbox"
)

// Execution statuses, SageMaker's MonitoringExecutionStatus values that
// Glassbox uses.
const (
	ExecutionInProgress              = "InProgress"
	ExecutionCompleted               = "Completed"
	ExecutionCompletedWithViolations = "CompletedWithViolations"
	ExecutionFailed                  = "Failed"
)

// ExecutionStatuses lists every execution status.
var ExecutionStatuses = []string{ExecutionInProgress, ExecutionCompleted, ExecutionCompletedWithViolations, ExecutionFailed}

// Defaults of SchedulerOptions.
const (
	DefaultSchedulerTick   = 30 * time.Second
	DefaultSchedulerLease  = time.Hour
	DefaultNotifyTimeout   = 2 * time.Minute
	DefaultRunConcurrency  = 2
	defaultExecutionsLimit = 100
)

// ScheduleSpec is one schedule of one endpoint, as configured.
type ScheduleSpec struct {
	Endpoint string
	Name     string
	// Expr is a schedule expression (see ParseSchedule).
	Expr string
	// Window is how much data each run covers; 0 means the schedule's
	// Period.
	Window time.Duration
	// Offset moves the window back: a run scheduled at T covers
	// [T-Offset-Window, T-Offset).
	Offset time.Duration
}

// Job is one run handed to a RunFunc: analyse the endpoint's captured data
// in [Start, End).
type Job struct {
	Endpoint      string
	Schedule      string
	ScheduledTime time.Time
	Start         time.Time
	End           time.Time
	ExecutionID   string
	// Manual is true for RunNow.
	Manual bool
}

// FeatureSignal is one feature's drift measure of a run. Method is empty
// (and the drift fields zero) for a feature the run did not test for drift.
type FeatureSignal struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	// Distance is the drift distance from the baseline by Method (the
	// drift report's statistic).
	Distance float64 `json:"distance"`
	// PValue is set for the ks and chisquare tests.
	PValue *float64 `json:"p_value,omitempty"`
	// Threshold is compared with PValue for ks and chisquare, with
	// Distance otherwise.
	Threshold float64 `json:"threshold"`
	// Drifted is the test's verdict.
	Drifted bool `json:"drifted"`
	// Completeness is the share of rows with a value, 0 to 1.
	Completeness float64 `json:"completeness"`
}

// Outcome is what a RunFunc reports.
type Outcome struct {
	// Status is ExecutionCompleted, ExecutionCompletedWithViolations or
	// ExecutionFailed. Completed with violations is recorded as
	// CompletedWithViolations; any other value as Failed.
	Status string
	// Reason is the failure reason, or a one-line summary.
	Reason     string
	Violations []Violation
	Features   []FeatureSignal
	// ReportURI locates the report written (s3://..., file://...).
	ReportURI string
}

// RunFunc analyses one window. It must honour ctx, which ends when the
// claim's lease does. A panic is recovered and recorded as Failed.
type RunFunc func(ctx context.Context, job Job) Outcome

// Execution is the record of one run.
type Execution struct {
	ID            string    `json:"id"`
	Endpoint      string    `json:"endpoint"`
	Schedule      string    `json:"schedule"`
	ScheduledTime time.Time `json:"scheduled_time"`
	// Start and End are the analysis window [Start, End).
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Violations int       `json:"violations"`
	ReportURI  string    `json:"report_uri,omitempty"`
	// Owner names the process that ran (or runs) it.
	Owner      string    `json:"owner"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Manual is true for runs started by hand (RunNow).
	Manual bool `json:"manual"`

	// The details of a finished execution, copied from its Outcome: the
	// substance of its report, kept in the metadata store so readers need
	// not fetch the report. ListExecutions leaves them out.

	// ViolationList is the constraint violations (Violations counts them).
	ViolationList []Violation `json:"violation_list,omitempty"`
	// Features is each feature's drift and completeness.
	Features []FeatureSignal `json:"features,omitempty"`
	// ViolationsByCheck counts ViolationList by constraint_check_type.
	ViolationsByCheck map[string]int `json:"violations_by_check,omitempty"`
}

// FeaturePoint is one feature's measure in one finished execution: a point
// of the feature's drift history (see FeatureSignal for the measures).
type FeaturePoint struct {
	ExecutionID   string    `json:"execution_id"`
	Schedule      string    `json:"schedule"`
	Manual        bool      `json:"manual"`
	ScheduledTime time.Time `json:"scheduled_time"`
	// Start and End are the analysis window [Start, End).
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Status       string    `json:"status"`
	Method       string    `json:"method"`
	Distance     float64   `json:"distance"`
	PValue       *float64  `json:"p_value,omitempty"`
	Threshold    float64   `json:"threshold"`
	Drifted      bool      `json:"drifted"`
	Completeness float64   `json:"completeness"`
}

// ExecutionFilter selects executions; empty fields match everything.
type ExecutionFilter struct {
	Endpoint string
	Schedule string
	Status   string
	// Limit caps the result; 0 means the store's default.
	Limit int
}

// ExecutionStore persists executions; *store.DB implements it. Times are
// kept at microsecond precision in UTC.
type ExecutionStore interface {
	// ClaimExecution records e as InProgress owned by e.Owner until
	// leaseUntil and reports true, or reports false when another process
	// already claimed (endpoint, schedule, scheduled_time, manual) —
	// unless that claim's lease has expired (lease_until <= e.StartedAt)
	// with status InProgress, in which case it takes it over: the row gets
	// e's ID, owner, lease and start time.
	ClaimExecution(ctx context.Context, e Execution, leaseUntil time.Time) (bool, error)
	// FinishExecution stores e's Status, Reason, Violations, ReportURI,
	// FinishedAt and details (ViolationList, Features, ViolationsByCheck)
	// on the execution with e.ID; a glassbox.ENotFound error when there is
	// none (a takeover replaced it).
	FinishExecution(ctx context.Context, e Execution) error
	// ListExecutions returns matching executions, newest scheduled time
	// first, without their details (nil ViolationList, Features and
	// ViolationsByCheck): lists stay light.
	ListExecutions(ctx context.Context, f ExecutionFilter) ([]Execution, error)
	// GetExecution returns one execution with its details; a
	// glassbox.ENotFound error when there is none.
	GetExecution(ctx context.Context, id string) (Execution, error)
}

// Notification is what a Notifier delivers: an execution that needs
// attention and what it found. It encodes as JSON with snake_case keys.
type Notification struct {
	// Type is always "monitor.execution".
	Type      string    `json:"type"`
	Execution Execution `json:"execution"`
	// Summary is one line for people and chat tools.
	Summary string `json:"summary"`
	// ViolationsByCheck counts violations by constraint_check_type.
	ViolationsByCheck map[string]int  `json:"violations_by_check"`
	Violations        []Violation     `json:"violations"`
	Features          []FeatureSignal `json:"features,omitempty"`
}

// NotificationType is Notification.Type.
const NotificationType = "monitor.execution"

// Notifier delivers notifications (notify.Webhook implements it). It must
// return within ctx.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// SchedulerOptions configure a Scheduler. Store and Run are required.
type SchedulerOptions struct {
	Store ExecutionStore
	Run   RunFunc
	// Notifier receives executions with violations or failures; nil
	// notifies nobody.
	Notifier Notifier
	// Owner names this process in claims (e.g. hostname:pid); default a
	// random id.
	Owner string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Tick is how often Run checks for due slots. Default 30s.
	Tick time.Duration
	// Lease bounds one run: the claim's lease and the run's deadline.
	// Default 1h.
	Lease time.Duration
	// Concurrency is how many runs one RunDue executes at once. Default 2.
	Concurrency int
	// NotifyTimeout bounds one Notify call. Default 2m.
	NotifyTimeout time.Duration
	// Logger receives run failures and notification errors; nil discards.
	Logger *slog.Logger
	// Metrics receives each outcome; nil records none.
	Metrics *Metrics
}

// scheduleEntry is one parsed ScheduleSpec and its progress.
type scheduleEntry struct {
	spec  ScheduleSpec
	sched Schedule
	// next is the next slot to attempt; zero until the loop first sees
	// the entry.
	next time.Time
}

// scheduleKey identifies a schedule.
type scheduleKey struct{ endpoint, name string }

// Scheduler runs monitoring schedules. Its methods are safe for concurrent
// use.
type Scheduler struct {
	opts SchedulerOptions
	log  *slog.Logger

	mu      sync.Mutex
	entries map[scheduleKey]*scheduleEntry
}

// NewScheduler returns a Scheduler with no schedules; call Apply, then Run.
func NewScheduler(o SchedulerOptions) *Scheduler {
	if o.Owner == "" {
		o.Owner = "glassbox-" + uuid.NewString()[:8]
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick <= 0 {
		o.Tick = DefaultSchedulerTick
	}
	if o.Lease <= 0 {
		o.Lease = DefaultSchedulerLease
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultRunConcurrency
	}
	if o.NotifyTimeout <= 0 {
		o.NotifyTimeout = DefaultNotifyTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{opts: o, log: log.With("component", "monitor"), entries: map[scheduleKey]*scheduleEntry{}}
}

// Apply replaces the schedules. It validates all of them first and changes
// nothing on error. Schedules whose expression, window and offset are
// unchanged keep their progress; new or changed ones start from their most
// recent slot.
func (s *Scheduler) Apply(specs []ScheduleSpec) error {
	next := make(map[scheduleKey]*scheduleEntry, len(specs))
	var errs []error
	for _, sp := range specs {
		k := scheduleKey{sp.Endpoint, sp.Name}
		switch {
		case sp.Endpoint == "" || sp.Name == "":
			errs = append(errs, fmt.Errorf("schedule %q of endpoint %q: endpoint and name are required", sp.Name, sp.Endpoint))
			continue
		case next[k] != nil:
			errs = append(errs, fmt.Errorf("schedule %q of endpoint %q: defined twice", sp.Name, sp.Endpoint))
			continue
		case sp.Window < 0 || sp.Offset < 0 || sp.Window > MaxScheduleWindow:
			errs = append(errs, fmt.Errorf("schedule %q of endpoint %q: window must be 0 to %v and offset >= 0", sp.Name, sp.Endpoint, MaxScheduleWindow))
			continue
		}
		sched, err := ParseSchedule(sp.Expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %q of endpoint %q: %w", sp.Name, sp.Endpoint, err))
			continue
		}
		if sp.Window == 0 && sched.Period() > MaxScheduleWindow {
			errs = append(errs, fmt.Errorf("schedule %q of endpoint %q: runs every %v, longer than the maximum window %v: set a window", sp.Name, sp.Endpoint, sched.Period(), MaxScheduleWindow))
			continue
		}
		next[k] = &scheduleEntry{spec: sp, sched: sched}
	}
	if len(errs) > 0 {
		return fmt.Errorf("apply monitor schedules: %w", errors.Join(errs...))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.entries {
		if e, ok := next[k]; ok && e.spec == old.spec {
			e.next = old.next
		} else if !ok {
			s.opts.Metrics.forgetSchedule(k.endpoint, k.name)
		}
	}
	s.entries = next
	return nil
}

// Schedules returns the applied schedules, sorted by endpoint and name.
func (s *Scheduler) Schedules() []ScheduleSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ScheduleSpec, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.spec)
	}
	slices.SortFunc(out, func(a, b ScheduleSpec) int {
		if c := strings.Compare(a.Endpoint, b.Endpoint); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Run checks for due slots every Tick (and at the next slot's time, if
// sooner) and runs them, until ctx ends; it then waits for runs in progress
// (whose contexts end too) and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.RunDue(ctx)
		wait := s.opts.Tick
		if n, ok := s.nextDue(); ok {
			if d := n.Sub(s.opts.Now()); d < wait {
				wait = max(d, 0)
			}
		}
		t.Reset(wait)
	}
}

// nextDue returns the earliest pending slot.
func (s *Scheduler) nextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first time.Time
	for _, e := range s.entries {
		if !e.next.IsZero() && (first.IsZero() || e.next.Before(first)) {
			first = e.next
		}
	}
	return first, !first.IsZero()
}

// RunDue runs every slot due at Now() (for each schedule, only the most
// recent one), up to Concurrency at a time, and returns how many this
// process ran (claims lost to other processes do not count). Run calls it
// on every tick; tests call it directly.
func (s *Scheduler) RunDue(ctx context.Context) int {
	now := s.opts.Now().UTC()
	type due struct {
		spec  ScheduleSpec
		sched Schedule
		slot  time.Time
	}
	var jobs []due
	s.mu.Lock()
	for _, e := range s.entries {
		if e.next.IsZero() {
			// First sight: the most recent slot, else the next one.
			if e.next = e.sched.Prev(now); e.next.IsZero() {
				e.next = e.sched.Next(now)
			}
		}
		if e.next.After(now) {
			continue
		}
		slot := e.sched.Prev(now) // skip slots missed in between
		jobs = append(jobs, due{e.spec, e.sched, slot})
		e.next = e.sched.Next(slot)
	}
	s.mu.Unlock()

	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ran int
		sem = make(chan struct{}, s.opts.Concurrency)
	)
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			start, end := j.sched.Window(j.slot, j.spec.Window, j.spec.Offset)
			job := Job{Endpoint: j.spec.Endpoint, Schedule: j.spec.Name, ScheduledTime: j.slot, Start: start, End: end}
			_, claimed, err := s.execute(ctx, job)
			if err != nil {
				s.log.Error("monitor run failed", "endpoint", job.Endpoint, "schedule", job.Schedule,
					"scheduled_time", job.ScheduledTime, "err", err)
			}
			if claimed {
				mu.Lock()
				ran++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ran
}

// RunNow runs a schedule of an endpoint by hand over [start, end) and
// returns the finished execution (Manual true). Errors: glassbox ENotFound
// for an unknown schedule, EInvalid for a bad window (empty, longer than
// MaxScheduleWindow, or ending in the future), EConflict when another
// manual run of the schedule claimed the same instant.
func (s *Scheduler) RunNow(ctx context.Context, endpoint, schedule string, start, end time.Time) (Execution, error) {
	s.mu.Lock()
	_, ok := s.entries[scheduleKey{endpoint, schedule}]
	s.mu.Unlock()
	now := s.opts.Now().UTC()
	switch {
	case !ok:
		return Execution{}, glassbox.Errorf(glassbox.ENotFound, "endpoint %q has no monitoring schedule %q", endpoint, schedule)
	case !start.Before(end):
		return Execution{}, glassbox.Errorf(glassbox.EInvalid, "window start %s must be before end %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	case end.Sub(start) > MaxScheduleWindow:
		return Execution{}, glassbox.Errorf(glassbox.EInvalid, "window of %v is longer than the maximum %v", end.Sub(start), MaxScheduleWindow)
	case end.After(now):
		return Execution{}, glassbox.Errorf(glassbox.EInvalid, "window end %s is in the future", end.UTC().Format(time.RFC3339))
	}
	job := Job{Endpoint: endpoint, Schedule: schedule, ScheduledTime: now, Start: start.UTC(), End: end.UTC(), Manual: true}
	e, claimed, err := s.execute(ctx, job)
	if err != nil {
		return Execution{}, err
	}
	if !claimed {
		return Execution{}, glassbox.Errorf(glassbox.EConflict, "another manual run of %s/%s started at %s", endpoint, schedule, now.Format(time.RFC3339Nano))
	}
	return e, nil
}

// execute claims, runs, records, observes and notifies one job. It reports
// whether this process claimed the slot. The returned error concerns the
// store; a failed run is a Failed execution, not an error.
func (s *Scheduler) execute(ctx context.Context, job Job) (Execution, bool, error) {
	now := s.opts.Now().UTC()
	job.ExecutionID = uuid.NewString()
	e := Execution{ID: job.ExecutionID, Endpoint: job.Endpoint, Schedule: job.Schedule, ScheduledTime: job.ScheduledTime,
		Start: job.Start, End: job.End, Status: ExecutionInProgress, Owner: s.opts.Owner,
		CreatedAt: now, StartedAt: now, Manual: job.Manual}
	lease := now.Add(s.opts.Lease)
	ok, err := s.opts.Store.ClaimExecution(ctx, e, lease)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("claim %s/%s at %s: %w", job.Endpoint, job.Schedule, job.ScheduledTime.Format(time.RFC3339), err)
		}
		return Execution{}, false, err
	}
	// The run ends with the lease (measured on the real clock, since the
	// lease is what lets another process take over).
	runCtx, cancel := context.WithTimeout(ctx, s.opts.Lease)
	out := s.safeRun(runCtx, job)
	cancel()

	out.Features = finiteSignals(out.Features)
	e.Status, e.Reason = normalizeStatus(out)
	e.Violations = len(out.Violations)
	e.ViolationList, e.Features = out.Violations, out.Features
	if len(out.Violations) > 0 {
		e.ViolationsByCheck = violationsByCheck(out.Violations)
	}
	e.ReportURI = out.ReportURI
	e.FinishedAt = s.opts.Now().UTC()
	// Record the result even if ctx ended meanwhile (shutdown): otherwise
	// the slot stays InProgress until its lease expires.
	finCtx, finCancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer finCancel()
	if err := s.opts.Store.FinishExecution(finCtx, e); err != nil {
		return e, true, fmt.Errorf("record execution %s: %w", e.ID, err)
	}
	s.opts.Metrics.observe(e, out)
	if e.Status != ExecutionCompleted && s.opts.Notifier != nil {
		nctx, ncancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.NotifyTimeout)
		defer ncancel()
		if err := s.opts.Notifier.Notify(nctx, newNotification(e, out)); err != nil {
			s.opts.Metrics.notifyFailed(e.Endpoint)
			s.log.Warn("monitor notification failed", "endpoint", e.Endpoint, "schedule", e.Schedule, "execution", e.ID, "err", err)
		}
	}
	return e, true, nil
}

// safeRun calls the RunFunc, turning a panic into a Failed outcome.
func (s *Scheduler) safeRun(ctx context.Context, job Job) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("monitor run panicked", "endpoint", job.Endpoint, "schedule", job.Schedule, "panic", r)
			out = Outcome{Status: ExecutionFailed, Reason: fmt.Sprintf("internal error: the run panicked: %v", r)}
		}
	}()
	return s.opts.Run(ctx, job)
}

// normalizeStatus returns the status and reason to record for out.
func normalizeStatus(out Outcome) (status, reason string) {
	switch out.Status {
	case ExecutionCompleted, ExecutionCompletedWithViolations:
		if len(out.Violations) > 0 {
			return ExecutionCompletedWithViolations, out.Reason
		}
		return out.Status, out.Reason
	case ExecutionFailed:
		if out.Reason == "" {
			return ExecutionFailed, "the run failed without a reason"
		}
		return ExecutionFailed, out.Reason
	}
	return ExecutionFailed, fmt.Sprintf("internal error: the run returned unknown status %q", out.Status)
}

// violationsByCheck counts vs by constraint_check_type.
func violationsByCheck(vs []Violation) map[string]int {
	m := make(map[string]int)
	for _, v := range vs {
		m[v.ConstraintCheckType]++
	}
	return m
}

// finiteSignals returns fs with the non-finite numbers JSON cannot carry
// replaced as drift_report.json does: an infinite value by
// ±math.MaxFloat64, NaN by 0 (a NaN p-value is dropped). fs itself is not
// changed.
func finiteSignals(fs []FeatureSignal) []FeatureSignal {
	fix := func(x float64) float64 {
		switch {
		case math.IsNaN(x):
			return 0
		case math.IsInf(x, 0):
			return math.Copysign(math.MaxFloat64, x)
		}
		return x
	}
	var out []FeatureSignal
	for i, f := range fs {
		g := f
		g.Distance, g.Threshold, g.Completeness = fix(f.Distance), fix(f.Threshold), fix(f.Completeness)
		if f.PValue != nil {
			if math.IsNaN(*f.PValue) {
				g.PValue = nil
			} else if p := fix(*f.PValue); p != *f.PValue {
				g.PValue = &p
			}
		}
		if g != f && out == nil {
			out = slices.Clone(fs)
		}
		if out != nil {
			out[i] = g
		}
	}
	if out == nil {
		return fs
	}
	return out
}

// newNotification builds the notification of a finished execution. The
// execution it carries has no details: they are the notification's own
// fields.
func newNotification(e Execution, out Outcome) Notification {
	n := Notification{Type: NotificationType, Execution: e, ViolationsByCheck: violationsByCheck(out.Violations),
		Violations: out.Violations, Features: out.Features}
	n.Execution.ViolationList, n.Execution.Features, n.Execution.ViolationsByCheck = nil, nil, nil
	if n.Violations == nil {
		n.Violations = []Violation{}
	}
	what := "scheduled"
	if e.Manual {
		what = "manual"
	}
	window := e.Start.Format(time.RFC3339) + " to " + e.End.Format(time.RFC3339)
	if e.Status == ExecutionFailed {
		n.Summary = fmt.Sprintf("%s/%s: %s monitoring run failed (%s): %s", e.Endpoint, e.Schedule, what, window, e.Reason)
	} else {
		n.Summary = fmt.Sprintf("%s/%s: %s monitoring run found %d violation(s) (%s)", e.Endpoint, e.Schedule, what, e.Violations, window)
	}
	return n
}
