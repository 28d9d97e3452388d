package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

func TestMonitor_schedules(t *testing.T) {
	e := newEnv(t, nil)
	d := decl("churn", nil)
	d["monitor"] = map[string]any{
		"baseline": "./baselines/churn",
		"schedules": []any{
			map[string]any{"name": "hourly", "cron": "cron(0 * ? * * *)", "offset": "10m"},
			map[string]any{"name": "noon", "cron": "cron(0 12 ? * * *)", "window": "6h"},
		},
	}
	want(t, e.do(req{method: http.MethodPost, path: "/api/v1/endpoints", body: d, token: e.admin}), http.StatusCreated)

	var got struct {
		Items []struct {
			Name, Cron, Window, Offset string
			WindowSeconds              float64   `json:"window_seconds"`
			Next                       time.Time `json:"next_scheduled_time"`
			NextStart                  time.Time `json:"next_start"`
			NextEnd                    time.Time `json:"next_end"`
		}
	}
	r := e.get(e.admin, "/api/v1/endpoints/churn/monitor/schedules")
	want(t, r, http.StatusOK)
	r.json(t, &got)
	if len(got.Items) != 2 {
		t.Fatalf("schedules = %s", r.body)
	}
	h, n := got.Items[0], got.Items[1]
	if h.Name != "hourly" || h.Window != "0s" || h.Offset != "10m0s" || h.WindowSeconds != 3600 ||
		h.Next.Minute() != 0 || !h.NextEnd.Equal(h.Next.Add(-10*time.Minute)) || h.NextEnd.Sub(h.NextStart) != time.Hour {
		t.Errorf("hourly = %+v", h)
	}
	if n.Name != "noon" || n.WindowSeconds != 6*3600 || n.Next.Hour() != 12 {
		t.Errorf("noon = %+v", n)
	}
	// An endpoint without a monitor has none; an unknown endpoint is 404.
	e.seedEndpoint("plain", nil)
	r = e.get(e.admin, "/api/v1/endpoints/plain/monitor/schedules")
	want(t, r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"items":[]}` {
		t.Errorf("plain schedules = %s", r.body)
	}
	want(t, e.get(e.admin, "/api/v1/endpoints/missing/monitor/schedules"), http.StatusNotFound)
}

func TestMonitor_runAndExecutions(t *testing.T) {
	e := newEnv(t, nil)
	e.seedEndpoint("churn", nil)
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-time.Hour)
	run := func(schedule string, body any) *response {
		return e.do(req{method: http.MethodPost, path: "/api/v1/endpoints/churn/monitor/schedules/" + schedule + "/run", body: body, token: e.admin})
	}
	r := run("hourly", map[string]any{"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)})
	want(t, r, http.StatusOK)
	var ex monitor.Execution
	r.json(t, &ex)
	if ex.ID == "" || !ex.Manual || ex.Status != monitor.ExecutionCompleted || !ex.Start.Equal(start) || !ex.End.Equal(end) ||
		ex.ReportURI != "file:///reports/churn" || ex.FinishedAt.IsZero() {
		t.Errorf("execution = %s", r.body)
	}
	// Audited as monitor.run on the schedule.
	ev := e.auditFor(r.header.Get(api.HeaderRequestID))
	if ev.Action != "monitor.run" || ev.Resource != "endpoint/churn/monitor/hourly" || !strings.Contains(ev.Details, "execution="+ex.ID) {
		t.Errorf("audit event = %+v", ev)
	}

	wantError(t, run("hourly", map[string]any{"start": end.Format(time.RFC3339), "end": start.Format(time.RFC3339)}), http.StatusBadRequest, "must be before end")
	wantError(t, run("hourly", map[string]any{"start": start.Format(time.RFC3339)}), http.StatusBadRequest, "start and end are required")
	wantError(t, run("hourly", map[string]any{"start": start, "end": end, "extra": 1}), http.StatusBadRequest, "unknown field")
	wantError(t, run("hourly", map[string]any{"start": start.Format(time.RFC3339), "end": time.Now().Add(time.Hour).Format(time.RFC3339)}), http.StatusBadRequest, "in the future")
	wantError(t, run("nope", map[string]any{"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)}), http.StatusNotFound, `no monitoring schedule "nope"`)
	want(t, e.do(req{method: http.MethodPost, path: "/api/v1/endpoints/missing/monitor/schedules/hourly/run",
		body: map[string]any{"start": start, "end": end}, token: e.admin}), http.StatusNotFound)

	var list struct{ Items []monitor.Execution }
	r = e.get(e.admin, "/api/v1/endpoints/churn/monitor/executions?schedule=hourly&status=Completed&limit=10")
	want(t, r, http.StatusOK)
	r.json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != ex.ID {
		t.Errorf("executions = %s", r.body)
	}
	r = e.get(e.admin, "/api/v1/endpoints/churn/monitor/executions?status=Failed")
	want(t, r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"items":[]}` {
		t.Errorf("failed executions = %s", r.body)
	}
	wantError(t, e.get(e.admin, "/api/v1/endpoints/churn/monitor/executions?status=Done"), http.StatusBadRequest, "want one of")
	wantError(t, e.get(e.admin, "/api/v1/endpoints/churn/monitor/executions?limit=0"), http.StatusBadRequest, "limit")

	r = e.get(e.token("viewer"), "/api/v1/monitor/executions/"+ex.ID)
	want(t, r, http.StatusOK)
	var one monitor.Execution
	r.json(t, &one)
	if one.ID != ex.ID || one.Status != ex.Status {
		t.Errorf("execution = %s", r.body)
	}
	want(t, e.get(e.admin, "/api/v1/monitor/executions/missing"), http.StatusNotFound)
	// Scoped roles: an execution of churn is not visible on "other" only.
	want(t, e.get(e.token("other-endpoint"), "/api/v1/monitor/executions/"+ex.ID), http.StatusForbidden)
}

func TestMonitor_noRunner(t *testing.T) {
	e := newEnv(t, func(o *api.Options) { o.Monitor = nil })
	e.seedEndpoint("churn", nil)
	end := time.Now().UTC().Truncate(time.Hour)
	r := e.do(req{method: http.MethodPost, path: "/api/v1/endpoints/churn/monitor/schedules/hourly/run",
		body: map[string]any{"start": end.Add(-time.Hour), "end": end}, token: e.admin})
	wantError(t, r, http.StatusNotImplemented, "runs no monitors")
}

// finishExecution stores a finished execution of churn/hourly at slot
// with details, as the scheduler would.
func finishExecution(t *testing.T, e *env, id string, slot time.Time, status string, viol []monitor.Violation, feats ...monitor.FeatureSignal) monitor.Execution {
	t.Helper()
	x := monitor.Execution{ID: id, Endpoint: "churn", Schedule: "hourly", ScheduledTime: slot, Start: slot.Add(-time.Hour), End: slot,
		Owner: "test", CreatedAt: slot, StartedAt: slot}
	if ok, err := e.db.ClaimExecution(t.Context(), x, slot.Add(time.Hour)); !ok || err != nil {
		t.Fatalf("claim %s: %v, %v", id, ok, err)
	}
	x.Status, x.FinishedAt, x.Violations, x.ViolationList, x.Features = status, slot.Add(time.Minute), len(viol), viol, feats
	if len(viol) > 0 {
		x.ViolationsByCheck = map[string]int{}
		for _, v := range viol {
			x.ViolationsByCheck[v.ConstraintCheckType]++
		}
	}
	if err := e.db.FinishExecution(t.Context(), x); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestMonitor_executionDetails(t *testing.T) {
	e := newEnv(t, nil)
	e.seedEndpoint("churn", nil)
	slot := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	p := 0.001
	x := finishExecution(t, e, "x1", slot, monitor.ExecutionCompletedWithViolations,
		[]monitor.Violation{{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift, Description: "drifted"}},
		monitor.FeatureSignal{Name: "age", Method: "ks", Distance: 0.4, PValue: &p, Threshold: 0.05, Drifted: true, Completeness: 1})

	r := e.get(e.token("viewer"), "/api/v1/monitor/executions/x1")
	want(t, r, http.StatusOK)
	var got monitor.Execution
	r.json(t, &got)
	if diff := cmp.Diff(x, got); diff != "" {
		t.Errorf("execution (-want +got):\n%s", diff)
	}
	for _, key := range []string{`"violation_list":[{`, `"features":[{"name":"age","method":"ks","distance":0.4,"p_value":0.001,"threshold":0.05,"drifted":true,"completeness":1}]`,
		`"violations_by_check":{"baseline_drift_check":1}`, `"violations":1`} {
		if !strings.Contains(string(r.body), key) {
			t.Errorf("execution body lacks %s: %s", key, r.body)
		}
	}
	// The list stays light.
	r = e.get(e.admin, "/api/v1/endpoints/churn/monitor/executions")
	want(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "violation_list") || strings.Contains(string(r.body), "features") || !strings.Contains(string(r.body), `"id":"x1"`) {
		t.Errorf("executions list = %s", r.body)
	}
}

func TestMonitor_featureHistory(t *testing.T) {
	e := newEnv(t, nil)
	e.seedEndpoint("churn", nil)
	slot := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	p := 0.2
	age := func(d float64) monitor.FeatureSignal {
		return monitor.FeatureSignal{Name: "age", Method: "psi", Distance: d, Threshold: 0.2, Drifted: d >= 0.2, Completeness: 0.95}
	}
	finishExecution(t, e, "a", slot, monitor.ExecutionCompleted, nil, age(0.05))
	finishExecution(t, e, "b", slot.Add(time.Hour), monitor.ExecutionFailed, nil) // measured nothing
	finishExecution(t, e, "c", slot.Add(2*time.Hour), monitor.ExecutionCompletedWithViolations,
		[]monitor.Violation{{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift}}, age(0.31),
		monitor.FeatureSignal{Name: "plan tier", Method: "chisquare", Distance: 3.2, PValue: &p, Threshold: 0.05, Completeness: 1})

	type point struct {
		ExecutionID   string    `json:"execution_id"`
		Schedule      string    `json:"schedule"`
		ScheduledTime time.Time `json:"scheduled_time"`
		Start         time.Time `json:"start"`
		End           time.Time `json:"end"`
		Status        string    `json:"status"`
		Method        string    `json:"method"`
		Distance      float64   `json:"distance"`
		PValue        *float64  `json:"p_value"`
		Threshold     float64   `json:"threshold"`
		Drifted       bool      `json:"drifted"`
		Completeness  float64   `json:"completeness"`
	}
	var got struct{ Items []point }
	r := e.get(e.token("viewer"), "/api/v1/endpoints/churn/monitor/features/age/history?schedule=hourly")
	want(t, r, http.StatusOK)
	r.json(t, &got)
	wantPoints := []point{
		{ExecutionID: "c", Schedule: "hourly", ScheduledTime: slot.Add(2 * time.Hour), Start: slot.Add(time.Hour), End: slot.Add(2 * time.Hour),
			Status: monitor.ExecutionCompletedWithViolations, Method: "psi", Distance: 0.31, Threshold: 0.2, Drifted: true, Completeness: 0.95},
		{ExecutionID: "a", Schedule: "hourly", ScheduledTime: slot, Start: slot.Add(-time.Hour), End: slot,
			Status: monitor.ExecutionCompleted, Method: "psi", Distance: 0.05, Threshold: 0.2, Completeness: 0.95},
	}
	if diff := cmp.Diff(wantPoints, got.Items); diff != "" {
		t.Errorf("age history (-want +got):\n%s", diff)
	}
	// limit; an escaped feature name; an unknown feature or schedule is empty.
	r = e.get(e.admin, "/api/v1/endpoints/churn/monitor/features/age/history?limit=1")
	want(t, r, http.StatusOK)
	got.Items = nil
	r.json(t, &got)
	if len(got.Items) != 1 || got.Items[0].ExecutionID != "c" {
		t.Errorf("limited history = %s", r.body)
	}
	r = e.get(e.admin, "/api/v1/endpoints/churn/monitor/features/plan%20tier/history")
	want(t, r, http.StatusOK)
	got.Items = nil
	r.json(t, &got)
	if len(got.Items) != 1 || got.Items[0].PValue == nil || *got.Items[0].PValue != 0.2 || got.Items[0].Method != "chisquare" {
		t.Errorf("escaped feature history = %s", r.body)
	}
	for _, path := range []string{"/api/v1/endpoints/churn/monitor/features/nope/history", "/api/v1/endpoints/churn/monitor/features/age/history?schedule=daily"} {
		r = e.get(e.admin, path)
		want(t, r, http.StatusOK)
		if strings.TrimSpace(string(r.body)) != `{"items":[]}` {
			t.Errorf("%s = %s", path, r.body)
		}
	}
	wantError(t, e.get(e.admin, "/api/v1/endpoints/churn/monitor/features/age/history?limit=0"), http.StatusBadRequest, "limit")
	want(t, e.get(e.admin, "/api/v1/endpoints/missing/monitor/features/age/history"), http.StatusNotFound)
	want(t, e.get(e.token("other-endpoint"), "/api/v1/endpoints/churn/monitor/features/age/history"), http.StatusForbidden)
}
