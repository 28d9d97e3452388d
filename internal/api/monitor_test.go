package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
