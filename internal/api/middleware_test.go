package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/capture"
)

func TestAPI_RateLimit(t *testing.T) {
	e := newEnv(t, func(o *api.Options) { o.RateLimit, o.RateBurst = 0.5, 3 })
	viewer := e.token("viewer")
	for i := 0; i < 3; i++ {
		want(t, e.get(viewer, "/api/v1/whoami"), http.StatusOK)
	}
	r := e.get(viewer, "/api/v1/whoami")
	wantError(t, r, http.StatusTooManyRequests, "rate limit")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if ev := e.auditFor(r.header.Get("X-Request-Id")); ev.Result != "denied" || ev.Status != 429 || ev.Actor != actor(t, viewer) {
		t.Fatalf("audit %+v", ev)
	}
	// Buckets are per principal: another token is not limited.
	want(t, e.get(e.token("viewer"), "/api/v1/whoami"), http.StatusOK)
	// Requests without a valid token share a bucket per client address.
	for i := 0; i < 3; i++ {
		want(t, e.get("", "/api/v1/whoami"), http.StatusUnauthorized)
	}
	want(t, e.get("", "/api/v1/whoami"), http.StatusTooManyRequests)
}

func TestAPI_BodyLimit(t *testing.T) {
	e := newEnv(t, func(o *api.Options) { o.MaxBodyBytes = 1024 })
	big := decl("churn", map[string]string{"note": strings.Repeat("x", 2000)})
	r := e.do(req{method: "POST", path: "/api/v1/endpoints", token: e.admin, body: big})
	wantError(t, r, http.StatusRequestEntityTooLarge, "1024 bytes")
	if ev := e.auditFor(r.header.Get("X-Request-Id")); ev.Result != "error" || ev.Status != 413 {
		t.Fatalf("audit %+v", ev)
	}
}

func TestAPI_UnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	r := e.get(e.admin, "/api/v1/nothing")
	wantError(t, r, http.StatusNotFound, "no API route")
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	wantError(t, e.get(e.admin, "/api/v1/endpoints/a/b"), http.StatusNotFound, "no API route")
	wantError(t, e.get("", "/api/v2/endpoints"), http.StatusNotFound, "no API route")

	r = e.do(req{method: http.MethodPatch, path: "/api/v1/endpoints/churn", token: e.admin})
	wantError(t, r, http.StatusMethodNotAllowed, "PATCH")
	if allow := r.header.Get("Allow"); allow != "GET, PUT, DELETE" {
		t.Fatalf("Allow %q", allow)
	}
	// Route misses reach no handler and are not audited.
	for _, ev := range e.auditEvents() {
		if ev.RequestID == r.header.Get("X-Request-Id") {
			t.Fatalf("405 audited: %+v", ev)
		}
	}
}

func TestAPI_RequestID(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "GET", path: "/api/v1/whoami", token: e.admin, header: map[string]string{"X-Request-Id": "trace-42.a:b_c"}})
	want(t, r, http.StatusOK)
	if got := r.header.Get("X-Request-Id"); got != "trace-42.a:b_c" {
		t.Fatalf("echoed %q", got)
	}
	if ev := e.auditFor("trace-42.a:b_c"); ev.Action != "whoami" {
		t.Fatalf("audit %+v", ev)
	}
	// An insane id is replaced, also in error bodies.
	r = e.do(req{method: "GET", path: "/api/v1/tokens", header: map[string]string{"X-Request-Id": "bad id\twith <html>"}})
	wantError(t, r, http.StatusUnauthorized, "missing token")
	if got := r.header.Get("X-Request-Id"); len(got) != 36 {
		t.Fatalf("generated id %q", got)
	}
}

func TestAPI_PanicIs500(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(o *api.Options) { o.Registerer = reg })
	e.seedEndpoint("churn", nil)
	// The test reader panics for event ids starting "panic".
	entry := capture.IndexEntry{EventID: "panic-1", Endpoint: "churn", Variant: "a", Time: time.Now(), Object: "o", Line: 1}
	if err := e.db.IndexCaptures(t.Context(), []capture.IndexEntry{entry}); err != nil {
		t.Fatal(err)
	}
	r := e.get(e.admin, "/api/v1/captures/panic-1?payload=true")
	wantError(t, r, http.StatusInternalServerError, "internal error")
	if strings.Contains(string(r.body), "exploded") {
		t.Fatalf("panic value leaked: %s", r.body)
	}
	if ev := e.auditFor(r.header.Get("X-Request-Id")); ev.Result != "error" || ev.Status != 500 {
		t.Fatalf("audit %+v", ev)
	}
	// The server keeps serving, and metrics count by route and status.
	want(t, e.get(e.admin, "/api/v1/whoami"), http.StatusOK)
	if n := counterValue(t, reg, "GET /api/v1/captures/{id}", "500"); n != 1 {
		t.Fatalf("requests_total{captures/{id},500} = %v", n)
	}
	if n := counterValue(t, reg, "GET /api/v1/whoami", "200"); n != 1 {
		t.Fatalf("requests_total{whoami,200} = %v", n)
	}
}

// counterValue reads one glassbox_api_requests_total series.
func counterValue(t *testing.T, reg *prometheus.Registry, route, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "glassbox_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no glassbox_api_requests_total{route=%q,code=%q}", route, code)
	return 0
}
