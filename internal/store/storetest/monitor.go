package storetest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/store"
)

// monitorTests are the contract checks of monitor.ExecutionStore, and of
// monitor.Scheduler over it; RunStoreTests runs them.
var monitorTests = []struct {
	name string
	fn   func(t *testing.T, db *store.DB)
}{
	{"Execution/RoundTrip", testExecutionRoundTrip},
	{"Execution/ClaimOnce", testExecutionClaimOnce},
	{"Execution/Takeover", testExecutionTakeover},
	{"Execution/List", testExecutionList},
	{"Execution/Invalid", testExecutionInvalid},
	{"Execution/ConcurrentClaims", testExecutionConcurrentClaims},
	{"Execution/TwoSchedulers", testExecutionTwoSchedulers},
	{"Execution/Details", testExecutionDetails},
	{"Execution/FeatureHistory", testExecutionFeatureHistory},
}

// execution is an InProgress execution of churn/hourly at slot hour h.
func execution(id string, h int) monitor.Execution {
	slot := time.Date(2026, 3, 1, h, 0, 0, 0, time.UTC)
	started := slot.Add(90 * time.Second).Add(123456789) // nanoseconds are truncated
	return monitor.Execution{ID: id, Endpoint: "churn", Schedule: "hourly", ScheduledTime: slot,
		Start: slot.Add(-time.Hour), End: slot, Status: monitor.ExecutionInProgress, Owner: "host-a",
		CreatedAt: started, StartedAt: started}
}

// storedExecution is what the store keeps of e.
func storedExecution(e monitor.Execution) monitor.Execution {
	for _, p := range []*time.Time{&e.ScheduledTime, &e.Start, &e.End, &e.CreatedAt, &e.StartedAt, &e.FinishedAt} {
		if !p.IsZero() {
			*p = stored(*p)
		}
	}
	return e
}

func claim(t *testing.T, db *store.DB, e monitor.Execution, lease time.Time) bool {
	t.Helper()
	ok, err := db.ClaimExecution(t.Context(), e, lease)
	must(t, err, "claim "+e.ID)
	return ok
}

func testExecutionRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	e := execution("e1", 10)
	if !claim(t, db, e, e.StartedAt.Add(time.Hour)) {
		t.Fatal("first claim refused")
	}
	got, err := db.GetExecution(ctx, "e1")
	must(t, err, "get")
	if diff := cmp.Diff(storedExecution(e), got); diff != "" {
		t.Errorf("claimed execution (-want +got):\n%s", diff)
	}
	e.Status, e.Reason, e.Violations, e.ReportURI = monitor.ExecutionCompletedWithViolations, "2 checks failed", 2, "s3://b/reports/churn/hourly/2026/03/01/10/"
	e.FinishedAt = e.StartedAt.Add(5 * time.Minute)
	must(t, db.FinishExecution(ctx, e), "finish")
	got, err = db.GetExecution(ctx, "e1")
	must(t, err, "get")
	if diff := cmp.Diff(storedExecution(e), got); diff != "" {
		t.Errorf("finished execution (-want +got):\n%s", diff)
	}
	// Manual executions keep their flag.
	m := execution("m1", 10)
	m.Manual = true
	if !claim(t, db, m, m.StartedAt.Add(time.Hour)) {
		t.Fatal("a manual run at a scheduled slot's time was refused")
	}
	if got, _ := db.GetExecution(ctx, "m1"); !got.Manual {
		t.Error("manual flag lost")
	}
}

func testExecutionClaimOnce(t *testing.T, db *store.DB) {
	e := execution("a", 10)
	if !claim(t, db, e, e.StartedAt.Add(time.Hour)) {
		t.Fatal("first claim refused")
	}
	other := execution("b", 10)
	other.Owner = "host-b"
	if claim(t, db, other, other.StartedAt.Add(time.Hour)) {
		t.Error("second claim of a leased slot succeeded")
	}
	if got, _ := db.GetExecution(t.Context(), "a"); got.Owner != "host-a" {
		t.Errorf("owner = %q after a refused claim", got.Owner)
	}
	if _, err := db.GetExecution(t.Context(), "b"); glassbox.ErrorCode(err) != glassbox.ENotFound {
		t.Errorf("the refused claim was stored: %v", err)
	}
	// Another slot, schedule or endpoint is another claim.
	for i, x := range []monitor.Execution{execution("c", 11), execution("d", 10), execution("e", 10)} {
		switch i {
		case 1:
			x.Schedule = "daily"
		case 2:
			x.Endpoint = "fraud"
		}
		if !claim(t, db, x, x.StartedAt.Add(time.Hour)) {
			t.Errorf("claim %s refused", x.ID)
		}
	}
}

func testExecutionTakeover(t *testing.T, db *store.DB) {
	ctx := t.Context()
	dead := execution("dead", 10)
	lease := dead.StartedAt.Add(time.Hour)
	if !claim(t, db, dead, lease) {
		t.Fatal("first claim refused")
	}
	// Before the lease ends: refused.
	early := execution("early", 10)
	early.StartedAt = lease.Add(-time.Second)
	if claim(t, db, early, early.StartedAt.Add(time.Hour)) {
		t.Fatal("claim during the lease succeeded")
	}
	// At the lease's end: taken over.
	late := execution("late", 10)
	late.Owner, late.StartedAt = "host-b", lease
	if !claim(t, db, late, lease.Add(time.Hour)) {
		t.Fatal("takeover of an expired lease refused")
	}
	got, err := db.GetExecution(ctx, "late")
	must(t, err, "get")
	want := storedExecution(late)
	want.CreatedAt = stored(dead.CreatedAt) // the row's creation stays
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("taken-over execution (-want +got):\n%s", diff)
	}
	// The old owner can no longer finish it.
	dead.Status = monitor.ExecutionCompleted
	if err := db.FinishExecution(ctx, dead); glassbox.ErrorCode(err) != glassbox.ENotFound {
		t.Errorf("finish by the replaced owner = %v, want not found", err)
	}
	// A finished execution is never taken over, however old its lease.
	late.Status, late.FinishedAt = monitor.ExecutionFailed, lease.Add(time.Minute)
	must(t, db.FinishExecution(ctx, late), "finish")
	again := execution("again", 10)
	again.StartedAt = lease.Add(48 * time.Hour)
	if claim(t, db, again, again.StartedAt.Add(time.Hour)) {
		t.Error("a finished execution was claimed again")
	}
}

func testExecutionList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	var all []monitor.Execution
	for h := range 6 {
		e := execution(fmt.Sprintf("e%d", h), h)
		if h%2 == 1 {
			e.Schedule = "other"
		}
		if !claim(t, db, e, e.StartedAt.Add(time.Hour)) {
			t.Fatal("claim refused")
		}
		if h < 3 {
			e.Status, e.FinishedAt = monitor.ExecutionCompleted, e.StartedAt.Add(time.Minute)
			must(t, db.FinishExecution(ctx, e), "finish")
		}
		all = append(all, storedExecution(e))
	}
	ids := func(es []monitor.Execution) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		f    monitor.ExecutionFilter
		want []string
	}{
		{monitor.ExecutionFilter{}, []string{"e5", "e4", "e3", "e2", "e1", "e0"}},
		{monitor.ExecutionFilter{Limit: 2}, []string{"e5", "e4"}},
		{monitor.ExecutionFilter{Schedule: "other"}, []string{"e5", "e3", "e1"}},
		{monitor.ExecutionFilter{Status: monitor.ExecutionCompleted}, []string{"e2", "e1", "e0"}},
		{monitor.ExecutionFilter{Endpoint: "churn", Schedule: "hourly", Status: monitor.ExecutionInProgress}, []string{"e4"}},
		{monitor.ExecutionFilter{Endpoint: "fraud"}, nil},
	}
	for _, tt := range tests {
		got, err := db.ListExecutions(ctx, tt.f)
		must(t, err, "list")
		if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
			t.Errorf("ListExecutions(%+v) ids (-want +got):\n%s", tt.f, diff)
		}
		if got == nil {
			t.Errorf("ListExecutions(%+v) = nil, want an empty slice", tt.f)
		}
	}
	got, _ := db.ListExecutions(ctx, monitor.ExecutionFilter{})
	if diff := cmp.Diff(all[5], got[0]); diff != "" {
		t.Errorf("listed execution (-want +got):\n%s", diff)
	}
}

func testExecutionInvalid(t *testing.T, db *store.DB) {
	ctx := t.Context()
	for _, e := range []monitor.Execution{
		{},
		{ID: "x", Endpoint: "churn", Schedule: "hourly"}, // no times
	} {
		if _, err := db.ClaimExecution(ctx, e, time.Now()); glassbox.ErrorCode(err) != glassbox.EInvalid {
			t.Errorf("claim %+v = %v, want invalid", e, err)
		}
	}
	e := execution("x", 1)
	claim(t, db, e, e.StartedAt.Add(time.Hour))
	for _, status := range []string{"", monitor.ExecutionInProgress, "Done"} {
		e.Status = status
		wantCode(t, db.FinishExecution(ctx, e), glassbox.EInvalid, "finish with status "+status)
	}
	e.ID, e.Status = "missing", monitor.ExecutionCompleted
	wantCode(t, db.FinishExecution(ctx, e), glassbox.ENotFound, "finish missing")
	_, err := db.GetExecution(ctx, "missing")
	wantCode(t, err, glassbox.ENotFound, "get missing")
	_, err = db.ListExecutions(ctx, monitor.ExecutionFilter{Limit: -1})
	wantCode(t, err, glassbox.EInvalid, "negative limit")
}

// testExecutionConcurrentClaims has goroutines on two handles (as two
// processes) claim the same slots at once: each slot is claimed once.
func testExecutionConcurrentClaims(t *testing.T, db *store.DB) {
	dbs := []*store.DB{db, reopen(t, db)}
	const workers, slots = 8, 12
	var wins [slots]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers*slots)
	for w := range workers {
		wg.Go(func() {
			h := dbs[w%2]
			for s := range slots {
				e := execution(fmt.Sprintf("w%d-s%d", w, s), s)
				e.Owner = fmt.Sprintf("worker-%d", w)
				ok, err := h.ClaimExecution(context.Background(), e, e.StartedAt.Add(time.Hour))
				if err != nil {
					errs <- err
					continue
				}
				if ok {
					wins[s].Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("claim: %v", err)
	}
	for s := range slots {
		if n := wins[s].Load(); n != 1 {
			t.Errorf("slot %d claimed %d times, want 1", s, n)
		}
	}
	// All expired at once: the takeover race has one winner per slot too.
	for s := range wins {
		wins[s].Store(0)
	}
	for w := range workers {
		wg.Go(func() {
			h := dbs[w%2]
			for s := range slots {
				e := execution(fmt.Sprintf("t%d-s%d", w, s), s)
				e.StartedAt = e.StartedAt.Add(2 * time.Hour)
				if ok, err := h.ClaimExecution(context.Background(), e, e.StartedAt.Add(time.Hour)); err == nil && ok {
					wins[s].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for s := range slots {
		if n := wins[s].Load(); n != 1 {
			t.Errorf("expired slot %d taken over %d times, want 1", s, n)
		}
	}
}

// testExecutionTwoSchedulers runs two monitor.Schedulers, each on its own
// handle, through 24 hourly slots of a fake clock: every slot runs once.
func testExecutionTwoSchedulers(t *testing.T, db *store.DB) {
	var (
		mu   sync.Mutex
		now  = time.Date(2026, 3, 1, 0, 0, 30, 0, time.UTC)
		runs = map[time.Time]int{}
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	run := func(_ context.Context, j monitor.Job) monitor.Outcome {
		mu.Lock()
		runs[j.ScheduledTime]++
		mu.Unlock()
		return monitor.Outcome{Status: monitor.ExecutionCompleted, ReportURI: "file:///r/" + j.ExecutionID}
	}
	specs := []monitor.ScheduleSpec{{Endpoint: "churn", Name: "hourly", Expr: "cron(0 * ? * * *)"}}
	var ss []*monitor.Scheduler
	for i, h := range []*store.DB{db, reopen(t, db)} {
		s := monitor.NewScheduler(monitor.SchedulerOptions{Store: h, Run: run, Owner: fmt.Sprintf("process-%d", i), Now: clock})
		must(t, s.Apply(specs), "apply")
		ss = append(ss, s)
	}
	for range 24 {
		var wg sync.WaitGroup
		for _, s := range ss {
			wg.Go(func() { s.RunDue(t.Context()) })
		}
		wg.Wait()
		mu.Lock()
		now = now.Add(time.Hour)
		mu.Unlock()
	}
	if len(runs) != 24 {
		t.Errorf("%d slots ran, want 24", len(runs))
	}
	for slot, n := range runs {
		if n != 1 {
			t.Errorf("slot %v ran %d times", slot, n)
		}
	}
	execs, err := db.ListExecutions(t.Context(), monitor.ExecutionFilter{Limit: 100})
	must(t, err, "list")
	if len(execs) != 24 {
		t.Fatalf("%d executions stored, want 24", len(execs))
	}
	for _, e := range execs {
		if e.Status != monitor.ExecutionCompleted || e.ReportURI != "file:///r/"+e.ID {
			t.Errorf("execution %+v", e)
		}
	}
}

// finished is e finished at 5 minutes past its start with status and, for
// features given, details.
func finished(e monitor.Execution, status string, viol []monitor.Violation, feats ...monitor.FeatureSignal) monitor.Execution {
	e.Status, e.FinishedAt, e.Violations = status, e.StartedAt.Add(5*time.Minute), len(viol)
	e.ViolationList, e.Features = viol, feats
	if len(viol) > 0 {
		e.ViolationsByCheck = map[string]int{}
		for _, v := range viol {
			e.ViolationsByCheck[v.ConstraintCheckType]++
		}
	}
	return e
}

// light is e without its details, as ListExecutions returns it.
func light(e monitor.Execution) monitor.Execution {
	e.ViolationList, e.Features, e.ViolationsByCheck = nil, nil, nil
	return e
}

// testExecutionDetails: a finished execution's violations, features and
// counts by check round-trip exactly through GetExecution; ListExecutions
// leaves them out.
func testExecutionDetails(t *testing.T, db *store.DB) {
	ctx := t.Context()
	e := execution("d1", 10)
	if !claim(t, db, e, e.StartedAt.Add(time.Hour)) {
		t.Fatal("claim refused")
	}
	p, tiny := 0.1+0.2, 5e-324
	e = finished(e, monitor.ExecutionCompletedWithViolations,
		[]monitor.Violation{
			{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift, Description: `ks p-value 0.0003 < 0.05 "quoted" ünïcode`},
			{FeatureName: "plan", ConstraintCheckType: monitor.CheckBaselineDrift, Description: "psi 0.31 >= 0.2"},
			{FeatureName: "plan", ConstraintCheckType: monitor.CheckCompleteness, Description: "completeness 0.8 < 1"},
		},
		monitor.FeatureSignal{Name: "age", Method: "ks", Distance: 0.4123456789012345, PValue: &p, Threshold: 0.05, Drifted: true, Completeness: 1},
		monitor.FeatureSignal{Name: "plan", Method: "psi", Distance: math.MaxFloat64, Threshold: 0.2, Drifted: true, Completeness: 0.8},
		monitor.FeatureSignal{Name: "tiny", Method: "chisquare", Distance: 1e-300, PValue: &tiny, Threshold: 0.05, Completeness: 1.0 / 3},
		monitor.FeatureSignal{Name: "id", Completeness: 0},
	)
	must(t, db.FinishExecution(ctx, e), "finish")
	got, err := db.GetExecution(ctx, "d1")
	must(t, err, "get")
	if diff := cmp.Diff(storedExecution(e), got); diff != "" {
		t.Errorf("finished execution with details (-want +got):\n%s", diff)
	}
	list, err := db.ListExecutions(ctx, monitor.ExecutionFilter{Endpoint: "churn"})
	must(t, err, "list")
	if len(list) != 1 {
		t.Fatalf("%d executions listed, want 1", len(list))
	}
	if diff := cmp.Diff(light(storedExecution(e)), list[0]); diff != "" {
		t.Errorf("listed execution (-want +got):\n%s", diff)
	}

	// A run that found nothing has no details, and a failure none either.
	c := execution("d2", 11)
	claim(t, db, c, c.StartedAt.Add(time.Hour))
	c = finished(c, monitor.ExecutionFailed, nil)
	c.Reason = "no data"
	must(t, db.FinishExecution(ctx, c), "finish")
	got, err = db.GetExecution(ctx, "d2")
	must(t, err, "get")
	if diff := cmp.Diff(storedExecution(c), got); diff != "" {
		t.Errorf("finished execution without details (-want +got):\n%s", diff)
	}

	// Numbers JSON cannot carry are refused, and the row stays as it was.
	bad := execution("d3", 12)
	claim(t, db, bad, bad.StartedAt.Add(time.Hour))
	bad = finished(bad, monitor.ExecutionCompleted, nil, monitor.FeatureSignal{Name: "x", Distance: math.NaN()})
	wantCode(t, db.FinishExecution(ctx, bad), glassbox.EInvalid, "finish with NaN")
	if got, _ := db.GetExecution(ctx, "d3"); got.Status != monitor.ExecutionInProgress {
		t.Errorf("status after a refused finish = %q", got.Status)
	}
}

// testExecutionFeatureHistory: FeatureHistory returns one point per
// finished execution that measured the feature, newest first.
func testExecutionFeatureHistory(t *testing.T, db *store.DB) {
	ctx := t.Context()
	p := 0.01
	sig := func(name string, d float64) monitor.FeatureSignal {
		return monitor.FeatureSignal{Name: name, Method: "psi", Distance: d, Threshold: 0.2, Drifted: d >= 0.2, Completeness: 0.9}
	}
	type run struct {
		e     monitor.Execution
		feats []monitor.FeatureSignal
		fin   string // "" stays InProgress
	}
	mk := func(id string, h int, mod func(*monitor.Execution)) monitor.Execution {
		e := execution(id, h)
		if mod != nil {
			mod(&e)
		}
		return e
	}
	runs := []run{
		{mk("h0", 0, nil), []monitor.FeatureSignal{sig("age", 0.05), sig("plan", 0.5)}, monitor.ExecutionCompleted},
		{mk("h1", 1, nil), []monitor.FeatureSignal{sig("plan", 0.1)}, monitor.ExecutionCompleted}, // no age
		{mk("h2", 2, nil), nil, monitor.ExecutionFailed},
		{mk("h3", 3, nil), []monitor.FeatureSignal{sig("plan", 0.1),
			{Name: "age", Method: "ks", Distance: 0.3, PValue: &p, Threshold: 0.05, Drifted: true, Completeness: 1}}, monitor.ExecutionCompletedWithViolations},
		{mk("h4", 4, func(e *monitor.Execution) { e.Schedule = "daily" }), []monitor.FeatureSignal{sig("age", 0.25)}, monitor.ExecutionCompleted},
		{mk("h5", 5, func(e *monitor.Execution) { e.Manual = true }), []monitor.FeatureSignal{sig("age", 0.15)}, monitor.ExecutionCompleted},
		{mk("h6", 6, func(e *monitor.Execution) { e.Endpoint = "fraud" }), []monitor.FeatureSignal{sig("age", 0.9)}, monitor.ExecutionCompleted},
		{mk("h7", 7, nil), nil, ""}, // running
	}
	byID := map[string]monitor.Execution{}
	for _, r := range runs {
		if !claim(t, db, r.e, r.e.StartedAt.Add(time.Hour)) {
			t.Fatalf("claim %s refused", r.e.ID)
		}
		e := r.e
		if r.fin != "" {
			var viol []monitor.Violation
			if r.fin == monitor.ExecutionCompletedWithViolations {
				viol = []monitor.Violation{{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift}}
			}
			e = finished(r.e, r.fin, viol, r.feats...)
			must(t, db.FinishExecution(ctx, e), "finish "+e.ID)
		}
		byID[e.ID] = storedExecution(e)
	}
	point := func(id string) monitor.FeaturePoint {
		e := byID[id]
		pt := monitor.FeaturePoint{ExecutionID: e.ID, Schedule: e.Schedule, Manual: e.Manual, ScheduledTime: e.ScheduledTime,
			Start: e.Start, End: e.End, Status: e.Status}
		for _, f := range e.Features {
			if f.Name == "age" {
				pt.Method, pt.Distance, pt.PValue, pt.Threshold, pt.Drifted, pt.Completeness = f.Method, f.Distance, f.PValue, f.Threshold, f.Drifted, f.Completeness
			}
		}
		return pt
	}
	tests := []struct {
		endpoint, schedule, feature string
		limit                       int
		want                        []string
	}{
		{"churn", "", "age", 0, []string{"h5", "h4", "h3", "h0"}},
		{"churn", "hourly", "age", 0, []string{"h5", "h3", "h0"}},
		{"churn", "hourly", "age", 2, []string{"h5", "h3"}},
		{"churn", "daily", "age", 0, []string{"h4"}},
		{"churn", "hourly", "plan", 0, []string{"h3", "h1", "h0"}},
		{"churn", "", "missing", 0, nil},
		{"fraud", "", "age", 0, []string{"h6"}},
		{"nobody", "", "age", 0, nil},
	}
	for _, tt := range tests {
		got, err := db.FeatureHistory(ctx, tt.endpoint, tt.schedule, tt.feature, tt.limit)
		must(t, err, "feature history")
		if got == nil {
			t.Errorf("FeatureHistory(%s, %s, %s) = nil, want an empty slice", tt.endpoint, tt.schedule, tt.feature)
		}
		var ids []string
		for _, p := range got {
			ids = append(ids, p.ExecutionID)
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("FeatureHistory(%s, %q, %s, %d) ids (-want +got):\n%s", tt.endpoint, tt.schedule, tt.feature, tt.limit, diff)
		}
	}
	got, err := db.FeatureHistory(ctx, "churn", "", "age", 0)
	must(t, err, "feature history")
	want := []monitor.FeaturePoint{point("h5"), point("h4"), point("h3"), point("h0")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("age history (-want +got):\n%s", diff)
	}
	if got[2].PValue == nil || *got[2].PValue != p || got[2].Method != "ks" || !got[2].Drifted {
		t.Errorf("ks point = %+v", got[2])
	}

	_, err = db.FeatureHistory(ctx, "churn", "", "", 0)
	wantCode(t, err, glassbox.EInvalid, "no feature")
	_, err = db.FeatureHistory(ctx, "", "", "age", 0)
	wantCode(t, err, glassbox.EInvalid, "no endpoint")
	_, err = db.FeatureHistory(ctx, "churn", "", "age", -1)
	wantCode(t, err, glassbox.EInvalid, "negative limit")
}
