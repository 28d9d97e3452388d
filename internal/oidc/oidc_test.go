package oidc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/oidc"
	"github.com/glassbox-dev/glassbox/internal/oidc/oidctest"
)

func newVerifier(t *testing.T, is *oidctest.Issuer, mod func(*oidc.Options)) *oidc.Verifier {
	t.Helper()
	opts := oidc.Options{Issuer: is.URL, Audience: "glassbox",
		RoleMap: map[string][]string{"ml-team": {"ml-engineer"}, "ops": {"viewer", "auditor"}, "admins": {"admin"}}}
	if mod != nil {
		mod(&opts)
	}
	v, err := oidc.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyAccessToken_valid(t *testing.T) {
	is := oidctest.NewIssuer(t)
	v := newVerifier(t, is, nil)
	c := is.Claims("alice", "glassbox")
	c["groups"] = []string{"ml-team", "unmapped", "ops", "ml-team"}
	c["email"] = "alice@example.com"
	c["preferred_username"] = "alice"
	p, err := v.VerifyAccessToken(context.Background(), is.Sign(c))
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Principal{ID: "oidc:alice", Name: "alice@example.com", Roles: []string{"ml-engineer", "viewer", "auditor"}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}

	// A list aud, a single-string roles claim, preferred_username as name.
	c = is.Claims("bob", "glassbox")
	c["aud"] = []string{"other", "glassbox"}
	c["groups"] = "admins"
	c["preferred_username"] = "bob"
	if p, err = v.VerifyAccessToken(context.Background(), is.Sign(c)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(auth.Principal{ID: "oidc:bob", Name: "bob", Roles: []string{"admin"}}, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}

	// No mapped group: a principal without roles, not an error.
	if p, err = v.VerifyAccessToken(context.Background(), is.Sign(is.Claims("carol", "glassbox"))); err != nil || len(p.Roles) != 0 || p.ID != "oidc:carol" {
		t.Errorf("unmapped: %+v, %v", p, err)
	}
}

func TestVerifyAccessToken_nestedClaims(t *testing.T) {
	is := oidctest.NewIssuer(t)
	v := newVerifier(t, is, func(o *oidc.Options) { o.RolesClaim = "realm_access.roles"; o.SubjectClaim = "ext.uid" })
	c := is.Claims("ignored", "glassbox")
	c["realm_access"] = map[string]any{"roles": []string{"ops"}}
	c["ext"] = map[string]any{"uid": "u-42"}
	p, err := v.VerifyAccessToken(context.Background(), is.Sign(c))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(auth.Principal{ID: "oidc:u-42", Roles: []string{"viewer", "auditor"}}, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
}

func TestVerifyAccessToken_refused(t *testing.T) {
	is := oidctest.NewIssuer(t)
	other := oidctest.NewIssuer(t)
	v := newVerifier(t, is, nil)
	stranger := oidctest.NewKey(t)
	with := func(mod func(map[string]any)) map[string]any {
		c := is.Claims("alice", "glassbox")
		c["groups"] = []string{"admins"}
		mod(c)
		return c
	}
	good := is.Sign(with(func(map[string]any) {}))
	parts := strings.Split(good, ".")
	tampered := is.Sign(with(func(c map[string]any) { c["sub"] = "mallory" }))
	tparts := strings.Split(tampered, ".")
	for _, tc := range []struct {
		name, token, msg string
	}{
		{"wrong audience", is.Sign(with(func(c map[string]any) { c["aud"] = "someone-else" })), "audience"},
		{"expired", is.Sign(with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), "expired"},
		{"wrong issuer", is.Sign(with(func(c map[string]any) { c["iss"] = other.URL })), "different provider"},
		{"other issuer's token", other.Sign(with(func(c map[string]any) { c["iss"] = other.URL })), "signature"},
		{"bad signature", parts[0] + "." + tparts[1] + "." + parts[2], "signature"},
		{"unknown key", oidctest.SignWith(t, stranger, "other-key", with(func(map[string]any) {})), "signature"},
		{"published kid, other key", oidctest.SignWith(t, stranger, oidctest.KeyID, with(func(map[string]any) {})), "signature"},
		{"no subject", is.Sign(with(func(c map[string]any) { delete(c, "sub") })), "sub"},
		{"not a JWT", "opaque-access-token", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.VerifyAccessToken(context.Background(), tc.token)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %+v, %v; want an error containing %q", p, err, tc.msg)
			}
		})
	}
	if _, err := v.VerifyAccessToken(context.Background(), good); err != nil {
		t.Errorf("control token refused: %v", err)
	}
}

func TestVerifyAccessToken_discovery(t *testing.T) {
	is := oidctest.NewIssuer(t)
	v := newVerifier(t, is, func(o *oidc.Options) { o.Issuer = "http://127.0.0.1:1/nowhere" })
	_, err := v.VerifyAccessToken(context.Background(), is.Sign(is.Claims("alice", "glassbox")))
	if err == nil || !strings.Contains(err.Error(), "discover issuer http://127.0.0.1:1/nowhere") {
		t.Fatalf("err = %v, want a discovery error", err)
	}
	if err := newVerifier(t, is, nil).Discover(context.Background()); err != nil {
		t.Errorf("Discover: %v", err)
	}
	if _, err := oidc.New(context.Background(), oidc.Options{Issuer: is.URL}); err == nil {
		t.Error("New without audience: no error")
	}
}
