package api_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/audit"
)

func TestAudit_EventsPerAction(t *testing.T) {
	e := newEnv(t, nil)
	mle, viewer := e.token("ml-engineer"), e.token("viewer")
	type check struct {
		r                               *response
		actor, action, resource, result string
		status                          int
	}
	checks := []check{
		{e.do(req{method: "POST", path: "/api/v1/endpoints", token: mle, body: decl("churn", nil)}),
			actor(t, mle), "endpoints.create", "endpoint/churn", audit.ResultOK, 201},
		{e.do(req{method: "PUT", path: "/api/v1/endpoints/churn", token: mle, body: decl("churn", map[string]string{"a": "b"})}),
			actor(t, mle), "endpoints.update", "endpoint/churn", audit.ResultOK, 200},
		{e.do(req{method: "DELETE", path: "/api/v1/endpoints/churn", token: viewer}),
			actor(t, viewer), "endpoints.delete", "endpoint/churn", audit.ResultDenied, 403},
		{e.do(req{method: "DELETE", path: "/api/v1/endpoints/churn"}),
			"anonymous", "endpoints.delete", "endpoint/churn", audit.ResultDenied, 401},
		{e.do(req{method: "GET", path: "/api/v1/endpoints/nope", token: mle}),
			actor(t, mle), "endpoints.get", "endpoint/nope", audit.ResultError, 404},
		{e.get(e.admin, "/api/v1/audit-log"),
			actor(t, e.admin), "audit.list", "audit-log", audit.ResultOK, 200},
		{e.get(viewer, "/api/v1/audit-log/export"),
			actor(t, viewer), "audit.export", "audit-log", audit.ResultDenied, 403},
		{e.do(req{method: "DELETE", path: "/api/v1/tokens/" + tokenID(t, viewer), token: e.admin}),
			actor(t, e.admin), "tokens.revoke", "token/" + tokenID(t, viewer), audit.ResultOK, 204},
	}
	for _, c := range checks {
		rid := c.r.header.Get("X-Request-Id")
		ev := e.auditFor(rid)
		if ev.Actor != c.actor || ev.Action != c.action || ev.Resource != c.resource || ev.Result != c.result || ev.Status != c.status || ev.ClientAddr != "127.0.0.1" {
			t.Errorf("request %s: audit %+v, want %s %s %s %s %d", rid, ev, c.actor, c.action, c.resource, c.result, c.status)
		}
	}

	// Filtered listing through the API.
	var lst struct {
		Items []audit.Event
		Next  string
	}
	e.get(e.admin, "/api/v1/audit-log?actor="+actor(t, mle)+"&action=endpoints.update").json(t, &lst)
	if len(lst.Items) != 1 || lst.Items[0].Resource != "endpoint/churn" {
		t.Fatalf("filtered audit list %+v", lst.Items)
	}
	e.get(e.admin, "/api/v1/audit-log?limit=3").json(t, &lst)
	if len(lst.Items) != 3 || lst.Next != "3" {
		t.Fatalf("page 1: %d items, next %q", len(lst.Items), lst.Next)
	}
	e.get(e.admin, "/api/v1/audit-log?limit=3&after="+lst.Next).json(t, &lst)
	if len(lst.Items) != 3 || lst.Items[0].Seq != 4 {
		t.Fatalf("page 2 %+v", lst.Items)
	}
}

func TestAudit_ExportAndVerify(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < 5; i++ {
		e.get(e.admin, "/api/v1/whoami")
	}
	e.get("", "/api/v1/whoami")

	// Export: JSON Lines of every event so far.
	r := e.get(e.admin, "/api/v1/audit-log/export")
	want(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	n := 0
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
		if ev.Seq != int64(n) {
			t.Fatalf("line %d has seq %d", n, ev.Seq)
		}
	}
	if n != 6 {
		t.Fatalf("%d exported events, want 6", n)
	}

	var v struct {
		OK       bool
		Checked  int64
		Problems []audit.Problem
	}
	e.get(e.admin, "/api/v1/audit-log/verify").json(t, &v)
	if !v.OK || v.Checked != 7 || v.Problems == nil || len(v.Problems) != 0 {
		t.Fatalf("verify %+v", v)
	}

	// Tamper with the database directly: rewrite who did event 3.
	raw, err := sql.Open("sqlite", e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(context.Background(), `UPDATE audit_events SET actor = 'token:innocent' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	e.get(e.admin, "/api/v1/audit-log/verify").json(t, &v)
	if v.OK || len(v.Problems) == 0 || v.Problems[0].Seq != 3 {
		t.Fatalf("verify after tampering %+v", v)
	}
	// Deleting an event is caught too.
	if _, err := raw.ExecContext(context.Background(), `DELETE FROM audit_events WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	e.get(e.admin, "/api/v1/audit-log/verify").json(t, &v)
	found := false
	for _, p := range v.Problems {
		found = found || p.Seq == 6
	}
	if v.OK || !found {
		t.Fatalf("verify after deletion %+v", v)
	}
}
