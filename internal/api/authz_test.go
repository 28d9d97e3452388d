package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// authzMatrix is testdata/authz_matrix.yaml.
type authzMatrix struct {
	Principals []string                     `yaml:"principals"`
	Routes     map[string]map[string]string `yaml:"routes"`
}

// matches reports whether status is in class ("2xx" or an exact status).
func matches(class string, status int) (bool, error) {
	if len(class) == 3 && strings.HasSuffix(class, "xx") {
		return int(class[0]-'0') == status/100, nil
	}
	n, err := strconv.Atoi(class)
	if err != nil {
		return false, fmt.Errorf("bad status class %q", class)
	}
	return n == status, nil
}

func TestAuthorizationMatrix(t *testing.T) {
	raw, err := os.ReadFile("testdata/authz_matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m authzMatrix
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("authz_matrix.yaml: %v", err)
	}
	wantPrincipals := []string{"admin", "ml-engineer", "data-scientist", "auditor", "invoker", "viewer", "none", "revoked", "expired", "other-endpoint"}
	if !slices.Equal(m.Principals, wantPrincipals) {
		t.Fatalf("principals %v, want %v", m.Principals, wantPrincipals)
	}

	e := newEnv(t, nil)
	ctx := context.Background()
	tokens := map[string]string{"none": ""}
	for _, p := range []string{"admin", "ml-engineer", "data-scientist", "auditor", "invoker", "viewer", "other-endpoint"} {
		tokens[p] = e.token(p)
	}
	revoked, revokedTok := e.tokenWith(time.Hour, "admin")
	if err := e.db.RevokeToken(ctx, revokedTok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	tokens["revoked"] = revoked
	tokens["expired"], _ = e.tokenWith(-time.Minute, "admin")

	seedChurn := func() { e.seedEndpoint("churn", map[string]string{"team": "x"}) }
	seedChurn()
	entry := capture.IndexEntry{EventID: "evt-matrix-1", InferenceID: "inf-1", Endpoint: "churn", Variant: "primary",
		Time: time.Now().UTC().Truncate(time.Microsecond), Status: 200, Object: "churn/primary/2026/01/01/00/a.jsonl", Line: 1}
	if err := e.db.IndexCaptures(ctx, []capture.IndexEntry{entry}); err != nil {
		t.Fatal(err)
	}
	churn := decl("churn", map[string]string{"team": "x"})
	// A finished monitoring execution of churn.
	const execID = "exec-matrix-1"
	slot := time.Now().UTC().Truncate(time.Hour)
	if ok, err := e.db.ClaimExecution(ctx, monitor.Execution{ID: execID, Endpoint: "churn", Schedule: "hourly", ScheduledTime: slot,
		Start: slot.Add(-time.Hour), End: slot, Owner: "test", StartedAt: slot}, slot.Add(time.Hour)); !ok || err != nil {
		t.Fatalf("seed execution: %v, %v", ok, err)
	}

	// build makes the request of a route for a principal; before runs
	// first (to restore state a previous call changed).
	type call struct {
		build  func(principal string) req
		before func()
	}
	calls := map[string]call{
		"GET /api/v1/endpoints": {build: func(string) req { return req{method: "GET", path: "/api/v1/endpoints"} }},
		"POST /api/v1/endpoints": {build: func(p string) req {
			return req{method: "POST", path: "/api/v1/endpoints", body: decl("new-"+p, nil)}
		}},
		"POST /api/v1/endpoints:apply": {build: func(string) req {
			return req{method: "POST", path: "/api/v1/endpoints:apply", body: map[string]any{"endpoints": []any{churn}}}
		}},
		"GET /api/v1/endpoints/{name}": {build: func(string) req { return req{method: "GET", path: "/api/v1/endpoints/churn"} }},
		"PUT /api/v1/endpoints/{name}": {build: func(string) req {
			return req{method: "PUT", path: "/api/v1/endpoints/churn", body: churn}
		}},
		"DELETE /api/v1/endpoints/{name}": {before: seedChurn, build: func(string) req {
			return req{method: "DELETE", path: "/api/v1/endpoints/churn"}
		}},
		"GET /api/v1/captures": {build: func(string) req { return req{method: "GET", path: "/api/v1/captures?endpoint=churn"} }},
		"GET /api/v1/captures/{id}": {build: func(string) req {
			return req{method: "GET", path: "/api/v1/captures/" + entry.EventID}
		}},
		"GET /api/v1/tokens": {build: func(string) req { return req{method: "GET", path: "/api/v1/tokens"} }},
		"POST /api/v1/tokens": {build: func(p string) req {
			return req{method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": "made by " + p, "roles": []string{"viewer"}, "ttl": "1h"}}
		}},
		"DELETE /api/v1/tokens/{id}": {build: func(string) req {
			_, victim := e.tokenWith(time.Hour, "viewer")
			return req{method: "DELETE", path: "/api/v1/tokens/" + victim.ID}
		}},
		"GET /api/v1/roles":            {build: func(string) req { return req{method: "GET", path: "/api/v1/roles"} }},
		"GET /api/v1/roles/{name}":     {build: func(string) req { return req{method: "GET", path: "/api/v1/roles/viewer"} }},
		"GET /api/v1/audit-log":        {build: func(string) req { return req{method: "GET", path: "/api/v1/audit-log?limit=5"} }},
		"GET /api/v1/audit-log/export": {build: func(string) req { return req{method: "GET", path: "/api/v1/audit-log/export"} }},
		"GET /api/v1/audit-log/verify": {build: func(string) req { return req{method: "GET", path: "/api/v1/audit-log/verify"} }},
		"GET /api/v1/whoami":           {build: func(string) req { return req{method: "GET", path: "/api/v1/whoami"} }},
		"GET /api/v1/compliance":       {build: func(string) req { return req{method: "GET", path: "/api/v1/compliance"} }},
		"GET /api/v1/cost":             {build: func(string) req { return req{method: "GET", path: "/api/v1/cost"} }},
		"GET /api/v1/endpoints/{name}/monitor/schedules": {build: func(string) req {
			return req{method: "GET", path: "/api/v1/endpoints/churn/monitor/schedules"}
		}},
		"POST /api/v1/endpoints/{name}/monitor/schedules/{schedule}/run": {build: func(string) req {
			now := time.Now().UTC()
			return req{method: "POST", path: "/api/v1/endpoints/churn/monitor/schedules/hourly/run",
				body: map[string]any{"start": now.Add(-2 * time.Hour).Format(time.RFC3339), "end": now.Add(-time.Hour).Format(time.RFC3339)}}
		}},
		"GET /api/v1/endpoints/{name}/monitor/executions": {build: func(string) req {
			return req{method: "GET", path: "/api/v1/endpoints/churn/monitor/executions?limit=5"}
		}},
		"GET /api/v1/monitor/executions/{id}": {build: func(string) req {
			return req{method: "GET", path: "/api/v1/monitor/executions/" + execID}
		}},
		"GET /api/v1/endpoints/{name}/monitor/features/{feature}/history": {build: func(string) req {
			return req{method: "GET", path: "/api/v1/endpoints/churn/monitor/features/age/history?schedule=hourly&limit=5"}
		}},
	}

	served := map[string]bool{}
	for _, r := range e.api.Routes() {
		key := r.Method + " " + r.Pattern
		served[key] = true
		t.Run(key, func(t *testing.T) {
			row, ok := m.Routes[key]
			if !ok {
				t.Fatalf("route %s is missing from testdata/authz_matrix.yaml", key)
			}
			c, ok := calls[key]
			if !ok {
				t.Fatalf("route %s has no request in TestAuthorizationMatrix's calls", key)
			}
			for _, p := range m.Principals {
				class, ok := row[p]
				if !ok {
					t.Errorf("authz_matrix.yaml: %s has no expectation for %s", key, p)
					continue
				}
				if c.before != nil {
					c.before()
				}
				rq := c.build(p)
				rq.token = tokens[p]
				got := e.do(rq)
				ok, err := matches(class, got.status)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					t.Errorf("%s as %s: status %d, want %s; body %s", key, p, got.status, class, got.body)
				}
				if got.status == http.StatusUnauthorized && !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s as %s: 401 without WWW-Authenticate: Bearer", key, p)
				}
				if got.status >= 400 {
					if _, _, rid := got.errBody(t); rid == "" {
						t.Errorf("%s as %s: error body without request_id", key, p)
					}
				}
			}
			for p := range row {
				if !slices.Contains(m.Principals, p) {
					t.Errorf("authz_matrix.yaml: %s names unknown principal %q", key, p)
				}
			}
		})
	}
	for key := range m.Routes {
		if !served[key] {
			t.Errorf("authz_matrix.yaml names %s, which the API does not serve", key)
		}
	}

	// Every call above was audited, refusals included, and the chain holds.
	events := e.auditEvents()
	if n := len(served) * len(m.Principals); len(events) < n {
		t.Errorf("%d audit events after %d calls", len(events), n)
	}
	anon := 0
	for _, ev := range events {
		if ev.Actor == "anonymous" {
			anon++
		}
	}
	if want := 3 * len(served); anon != want { // none, revoked, expired
		t.Errorf("%d anonymous audit events, want %d", anon, want)
	}
	var v struct{ OK bool }
	e.get(e.admin, "/api/v1/audit-log/verify").json(t, &v)
	if !v.OK {
		t.Error("audit chain broken after the matrix")
	}
}
