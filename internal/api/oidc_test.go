package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/auth"
)

// fakeVerifier accepts the bearers it knows.
type fakeVerifier map[string]auth.Principal

func (f fakeVerifier) VerifyAccessToken(_ context.Context, raw string) (auth.Principal, error) {
	p, ok := f[raw]
	if !ok {
		return auth.Principal{}, errors.New("signature mismatch")
	}
	return p, nil
}

func TestOIDC_Authentication(t *testing.T) {
	v := fakeVerifier{
		"jwt-ml":   {ID: "oidc:alice", Name: "alice@example.com", Roles: []string{"ml-engineer"}},
		"jwt-none": {ID: "oidc:bob"},
	}
	e := newEnv(t, func(o *api.Options) { o.OIDC = v })

	if r := e.get("jwt-ml", "/api/v1/endpoints"); r.status != http.StatusOK {
		t.Errorf("mapped JWT: GET endpoints = %d %s", r.status, r.body)
	}
	r := e.get("jwt-ml", "/api/v1/tokens")
	wantError(t, r, http.StatusForbidden, "oidc:alice")
	if ev := e.auditFor(r.header.Get("X-Request-Id")); ev.Actor != "oidc:alice" || ev.Result != "denied" {
		t.Errorf("audit %+v", ev)
	}
	wantError(t, e.get("jwt-none", "/api/v1/endpoints"), http.StatusForbidden, "may not")
	wantError(t, e.get("jwt-bogus", "/api/v1/endpoints"), http.StatusUnauthorized, "invalid token")
	// API tokens still work, and never reach the verifier.
	if r := e.get(e.admin, "/api/v1/tokens"); r.status != http.StatusOK {
		t.Errorf("API token with OIDC on: %d", r.status)
	}
	wantError(t, e.get("gbx_short", "/api/v1/endpoints"), http.StatusUnauthorized, "malformed token")

	// Without a verifier, a JWT is a malformed API token.
	off := newEnv(t, nil)
	wantError(t, off.get("jwt-ml", "/api/v1/endpoints"), http.StatusUnauthorized, "malformed token")
}
