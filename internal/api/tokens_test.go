package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokens_Lifecycle(t *testing.T) {
	e := newEnv(t, nil)

	// Created: the secret is in this answer and nowhere else.
	r := e.do(req{method: "POST", path: "/api/v1/tokens", token: e.admin,
		body: map[string]any{"name": "ci deploys", "roles": []string{"ml-engineer"}, "ttl": "720h"}})
	want(t, r, http.StatusCreated)
	var created struct {
		Token, ID, Name string
		Roles           []string
		ExpiresAt       *time.Time `json:"expires_at"`
		CreatedBy       string     `json:"created_by"`
	}
	r.json(t, &created)
	if !strings.HasPrefix(created.Token, "gbx_") || created.ID != tokenID(t, created.Token) {
		t.Fatalf("created %+v", created)
	}
	if created.ExpiresAt == nil || time.Until(*created.ExpiresAt) < 719*time.Hour {
		t.Errorf("expires_at %v, want in 720h", created.ExpiresAt)
	}
	if created.CreatedBy != actor(t, e.admin) {
		t.Errorf("created_by %q", created.CreatedBy)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if strings.Contains(string(r.body), `"hash"`) {
		t.Errorf("create answer shows a hash: %s", r.body)
	}

	// Listed: never the secret, never the hash.
	list := e.get(e.admin, "/api/v1/tokens")
	want(t, list, http.StatusOK)
	if strings.Contains(string(list.body), created.Token) || strings.Contains(string(list.body), strings.Split(created.Token, "_")[2]) {
		t.Fatalf("token list shows a secret: %s", list.body)
	}
	if strings.Contains(string(list.body), `"hash"`) {
		t.Fatalf("token list shows hashes: %s", list.body)
	}
	if !strings.Contains(string(list.body), created.ID) {
		t.Fatalf("token list lacks %s: %s", created.ID, list.body)
	}

	// The new token works.
	var who struct {
		ID    string
		Roles []string
	}
	e.get(created.Token, "/api/v1/whoami").json(t, &who)
	if who.ID != "token:"+created.ID || len(who.Roles) != 1 || who.Roles[0] != "ml-engineer" {
		t.Fatalf("whoami %+v", who)
	}

	// Revoked: 401 saying so.
	want(t, e.do(req{method: "DELETE", path: "/api/v1/tokens/" + created.ID, token: e.admin}), http.StatusNoContent)
	want(t, e.do(req{method: "DELETE", path: "/api/v1/tokens/" + created.ID, token: e.admin}), http.StatusNoContent) // twice is fine
	wantError(t, e.get(created.Token, "/api/v1/whoami"), http.StatusUnauthorized, "token revoked")
	wantError(t, e.do(req{method: "DELETE", path: "/api/v1/tokens/zzzzzzzz", token: e.admin}), http.StatusNotFound, "")

	// The secret never reached the audit log.
	for _, ev := range e.auditEvents() {
		if strings.Contains(ev.Details, created.Token) || strings.Contains(ev.Details, strings.Split(created.Token, "_")[2]) {
			t.Fatalf("audit event %d holds the secret: %+v", ev.Seq, ev)
		}
	}
}

func TestTokens_Authentication(t *testing.T) {
	e := newEnv(t, nil)
	expired, _ := e.tokenWith(-time.Second, "admin")
	valid := e.token("viewer")
	// A well-formed token whose id exists but whose secret is wrong, and
	// one whose id does not exist, get the same answer.
	wrongSecret := valid[:len(valid)-4] + "aaaa"
	if wrongSecret == valid {
		wrongSecret = valid[:len(valid)-4] + "bbbb"
	}
	unknownID := "gbx_aaaaaaaa_" + strings.Repeat("a", 32)
	for _, tc := range []struct {
		name, header, msg string
	}{
		{"missing", "", "missing token"},
		{"not bearer", "Basic dXNlcjpwYXNz", "malformed Authorization header"},
		{"malformed", "Bearer gbx_short", "malformed token"},
		{"unknown id", "Bearer " + unknownID, "invalid token"},
		{"wrong secret", "Bearer " + wrongSecret, "invalid token"},
		{"expired", "Bearer " + expired, "token expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.header != "" {
				h["Authorization"] = tc.header
			}
			r := e.do(req{method: "GET", path: "/api/v1/whoami", header: h})
			wantError(t, r, http.StatusUnauthorized, tc.msg)
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if ev := e.auditFor(r.header.Get("X-Request-Id")); ev.Actor != "anonymous" || ev.Result != "denied" || ev.Status != 401 {
				t.Errorf("audit %+v", ev)
			}
		})
	}

	// Use is recorded (best-effort, throttled).
	var toks struct {
		Items []struct {
			ID       string
			LastUsed *time.Time `json:"last_used_at"`
		}
	}
	e.get(valid, "/api/v1/whoami")
	e.get(e.admin, "/api/v1/tokens").json(t, &toks)
	for _, tk := range toks.Items {
		if tk.ID == tokenID(t, valid) && tk.LastUsed == nil {
			t.Error("last_used_at not set after use")
		}
	}
}

func TestTokens_PrivilegeEscalation(t *testing.T) {
	e := newEnv(t, nil)
	mgr := e.token("token-manager") // tokens:*, endpoints:read on churn-*
	for _, tc := range []struct {
		name   string
		roles  []string
		status int
		msg    string
	}{
		{"narrower role", []string{"churn-a-reader"}, http.StatusCreated, ""},
		{"own role", []string{"token-manager"}, http.StatusCreated, ""},
		{"wider endpoint reach", []string{"viewer"}, http.StatusForbidden, "may not grant role viewer"},
		{"admin", []string{"admin"}, http.StatusForbidden, "may not grant role admin"},
		{"one bad of two", []string{"churn-a-reader", "auditor"}, http.StatusForbidden, "auditor"},
		{"unknown role", []string{"wizard"}, http.StatusBadRequest, `no role "wizard"`},
		{"no roles", nil, http.StatusBadRequest, "roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(req{method: "POST", path: "/api/v1/tokens", token: mgr,
				body: map[string]any{"name": tc.name, "roles": tc.roles, "ttl": "1h"}})
			if tc.status == http.StatusCreated {
				want(t, r, tc.status)
				return
			}
			wantError(t, r, tc.status, tc.msg)
		})
	}
	// An admin may grant anything.
	want(t, e.do(req{method: "POST", path: "/api/v1/tokens", token: e.admin,
		body: map[string]any{"name": "root", "roles": []string{"admin"}}}), http.StatusCreated)

	// Bad bodies.
	for _, body := range []any{
		map[string]any{"name": "x", "roles": []string{"viewer"}, "ttl": "forever"},
		map[string]any{"name": "x", "roles": []string{"viewer"}, "ttl": "-1h"},
		map[string]any{"name": "", "roles": []string{"viewer"}},
		map[string]any{"name": "x", "roles": []string{"viewer"}, "secret": "mine"},
		"not json",
	} {
		wantError(t, e.do(req{method: "POST", path: "/api/v1/tokens", token: e.admin, body: body}), http.StatusBadRequest, "")
	}
}
