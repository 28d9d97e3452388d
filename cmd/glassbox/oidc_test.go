package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/oidc/oidctest"
)

// TestOIDC_EndToEnd runs a server whose API accepts access tokens of a
// local issuer, with ml-team mapped to ml-engineer.
func TestOIDC_EndToEnd(t *testing.T) {
	t.Setenv(BootstrapTokenEnv, testAdminToken)
	m := startTestModel(t, echoModel("text/csv"))
	is := oidctest.NewIssuer(t)
	dir := t.TempDir()
	cfg := cpConfig(dir, "", m.URL) + fmt.Sprintf(`oidc:
  issuer: %s
  audience: glassbox
  role_map: {ml-team: [ml-engineer]}
`, is.URL)
	s := startServer(t, cfg)

	jwt := func(sub string, groups []string, ttl time.Duration) string {
		c := is.Claims(sub, "glassbox")
		c["groups"] = groups
		c["exp"] = time.Now().Add(ttl).Unix()
		return is.Sign(c)
	}
	alice := jwt("alice", []string{"ml-team", "other"}, time.Hour)
	if code := apiGet(t, s, alice, "/api/v1/endpoints", nil); code != http.StatusOK {
		t.Errorf("ml-team JWT: GET endpoints = %d, want 200", code)
	}
	if code := apiGet(t, s, alice, "/api/v1/tokens", nil); code != http.StatusForbidden {
		t.Errorf("ml-team JWT: GET tokens = %d, want 403", code)
	}
	if code := apiGet(t, s, jwt("bob", []string{"sales"}, time.Hour), "/api/v1/endpoints", nil); code != http.StatusForbidden {
		t.Errorf("unmapped JWT: GET endpoints = %d, want 403", code)
	}
	if code := apiGet(t, s, jwt("alice", []string{"ml-team"}, -time.Minute), "/api/v1/endpoints", nil); code != http.StatusUnauthorized {
		t.Errorf("expired JWT: GET endpoints = %d, want 401", code)
	}
	if code := apiGet(t, s, testAdminToken, "/api/v1/tokens", nil); code != http.StatusOK {
		t.Errorf("API token with OIDC on: GET tokens = %d, want 200", code)
	}

	var events struct {
		Items []struct {
			Actor, Action string
			Status        int
		}
	}
	apiGet(t, s, testAdminToken, "/api/v1/audit-log?actor=oidc:alice", &events)
	got := map[string]int{}
	for _, ev := range events.Items {
		got[ev.Action] = ev.Status
	}
	if got["endpoints.list"] != 200 || got["tokens.list"] != 403 {
		t.Errorf("audit events of oidc:alice: %+v", events.Items)
	}
	apiGet(t, s, testAdminToken, "/api/v1/audit-log?actor=oidc:bob", &events)
	if len(events.Items) != 1 || events.Items[0].Status != 403 {
		t.Errorf("audit events of oidc:bob: %+v", events.Items)
	}
}
