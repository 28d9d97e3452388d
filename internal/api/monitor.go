package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// MonitorExecutions reads monitoring executions; *store.DB implements it
// (it is part of Store).
type MonitorExecutions interface {
	// ListExecutions returns executions without their details.
	ListExecutions(ctx context.Context, f monitor.ExecutionFilter) ([]monitor.Execution, error)
	// GetExecution returns one execution with its details.
	GetExecution(ctx context.Context, id string) (monitor.Execution, error)
	// FeatureHistory returns a feature's measures in the finished
	// executions of an endpoint (of one schedule unless schedule is ""),
	// newest first, at most limit.
	FeatureHistory(ctx context.Context, endpoint, schedule, feature string, limit int) ([]monitor.FeaturePoint, error)
}

// MonitorRunner runs a monitoring schedule by hand over a window and
// returns the finished execution; *monitor.Scheduler implements it.
// Errors: glassbox ENotFound for a schedule it does not run, EInvalid for
// a bad window.
type MonitorRunner interface {
	RunNow(ctx context.Context, endpoint, schedule string, start, end time.Time) (monitor.Execution, error)
}

// scheduleView is one schedule of an endpoint, as declared, with what it
// means now.
type scheduleView struct {
	Name string `json:"name"`
	Cron string `json:"cron"`
	// Window and Offset as declared (Go durations; "0s" window means the
	// schedule's period).
	Window string `json:"window"`
	Offset string `json:"offset"`
	// WindowSeconds is the effective window.
	WindowSeconds float64 `json:"window_seconds"`
	// NextScheduledTime is the next run, with the window it will cover.
	NextScheduledTime time.Time `json:"next_scheduled_time"`
	NextStart         time.Time `json:"next_start"`
	NextEnd           time.Time `json:"next_end"`
}

// runRequest is the body of POST .../run.
type runRequest struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// listSchedules serves GET /endpoints/{name}/monitor/schedules: the
// schedules of the endpoint's stored declaration.
func (a *API) listSchedules(c *call, w http.ResponseWriter, r *http.Request) error {
	rec, err := a.loadEndpoint(r.Context(), c, r.PathValue("name"), auth.MonitorRead)
	if err != nil {
		return err
	}
	spec, err := specValue(rec.Spec)
	if err != nil {
		return err
	}
	out := list[scheduleView]{Items: []scheduleView{}}
	for _, s := range declaredSchedules(spec) {
		v := scheduleView{Name: str(s["name"]), Cron: str(s["cron"]), Window: durText(s["window"]), Offset: durText(s["offset"])}
		sched, err := monitor.ParseSchedule(v.Cron)
		if err == nil {
			window, _ := time.ParseDuration(v.Window)
			offset, _ := time.ParseDuration(v.Offset)
			if window == 0 {
				window = sched.Period()
			}
			v.WindowSeconds = window.Seconds()
			v.NextScheduledTime = sched.Next(a.now())
			v.NextStart, v.NextEnd = sched.Window(v.NextScheduledTime, window, offset)
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// declaredSchedules returns monitor.schedules of a decoded declaration.
func declaredSchedules(spec any) []map[string]any {
	m, _ := spec.(map[string]any)
	mon, _ := m["monitor"].(map[string]any)
	raw, _ := mon["schedules"].([]any)
	var out []map[string]any
	for _, x := range raw {
		if s, ok := x.(map[string]any); ok {
			out = append(out, s)
		}
	}
	return out
}

// str returns v as a string ("" for nil).
func str(v any) string {
	s, _ := v.(string)
	return s
}

// durText returns a declared duration as a Go duration string ("0s" when
// absent); YAML may hold a whole number of seconds.
func durText(v any) string {
	switch x := v.(type) {
	case string:
		if d, err := time.ParseDuration(x); err == nil {
			return d.String()
		}
		return x
	case int:
		return (time.Duration(x) * time.Second).String()
	}
	return "0s"
}

// runSchedule serves POST /endpoints/{name}/monitor/schedules/{schedule}/run:
// a synchronous manual run over the body's window.
func (a *API) runSchedule(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, schedule := r.PathValue("name"), r.PathValue("schedule")
	if _, err := a.loadEndpoint(ctx, c, name, auth.MonitorRun); err != nil {
		return err
	}
	if a.opts.Monitor == nil {
		return glassbox.Errorf(glassbox.ENotSupported, "this server runs no monitors")
	}
	if _, err := bodyFormat(r, false); err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var req runRequest
	if err := decodeJSON(b, &req); err != nil {
		return err
	}
	if req.Start.IsZero() || req.End.IsZero() {
		return glassbox.Errorf(glassbox.EInvalid, "start and end are required (RFC 3339 times)")
	}
	c.resource = "endpoint/" + name + "/monitor/" + schedule
	c.detail("start=%s end=%s", req.Start.UTC().Format(time.RFC3339), req.End.UTC().Format(time.RFC3339))
	e, err := a.opts.Monitor.RunNow(ctx, name, schedule, req.Start, req.End)
	if err != nil {
		return err
	}
	c.detail("execution=%s status=%s", e.ID, e.Status)
	writeJSON(w, http.StatusOK, e)
	return nil
}

// listExecutions serves GET /endpoints/{name}/monitor/executions, newest
// first, filtered by ?schedule= and ?status=, at most ?limit=.
func (a *API) listExecutions(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if _, err := a.loadEndpoint(ctx, c, name, auth.MonitorRead); err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(monitor.ExecutionStatuses, status) {
		return glassbox.Errorf(glassbox.EInvalid, "status %q: want one of %s", truncate(status, 64), strings.Join(monitor.ExecutionStatuses, ", "))
	}
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	execs, err := a.store.ListExecutions(ctx, monitor.ExecutionFilter{Endpoint: name, Schedule: q.Get("schedule"), Status: status, Limit: limit})
	if err != nil {
		return err
	}
	if execs == nil {
		execs = []monitor.Execution{}
	}
	writeJSON(w, http.StatusOK, list[monitor.Execution]{Items: execs})
	return nil
}

// featureHistory serves GET /endpoints/{name}/monitor/features/{feature}/history:
// the feature's drift and completeness in each finished execution that
// measured it, newest first, of ?schedule= (default every schedule, manual
// runs included), at most ?limit=. One store query, whatever the limit.
func (a *API) featureHistory(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, feature := r.PathValue("name"), r.PathValue("feature")
	if _, err := a.loadEndpoint(ctx, c, name, auth.MonitorRead); err != nil {
		return err
	}
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	c.detail("feature=%s", truncate(feature, 128))
	points, err := a.store.FeatureHistory(ctx, name, r.URL.Query().Get("schedule"), feature, limit)
	if err != nil {
		return err
	}
	if points == nil {
		points = []monitor.FeaturePoint{}
	}
	writeJSON(w, http.StatusOK, list[monitor.FeaturePoint]{Items: points})
	return nil
}

// getExecution serves GET /monitor/executions/{id}, with the execution's
// details; the caller needs monitor:read on the execution's endpoint.
func (a *API) getExecution(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	e, err := a.store.GetExecution(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.detail("endpoint=%s", e.Endpoint)
	ep, err := a.endpointFor(ctx, e.Endpoint)
	if err != nil {
		return err
	}
	if err := a.require(c, auth.MonitorRead, ep); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}
