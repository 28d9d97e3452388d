// Package oidc verifies OpenID Connect access tokens — JWTs signed by an
// issuer's published keys and addressed to Glassbox by their aud claim —
// and maps their claims to a Glassbox principal. Discovery and key
// fetching (with caching and refetch on an unknown key id) are
// github.com/coreos/go-oidc's.
//
// It is an adapter: api consumes it through api.TokenVerifier.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/glassbox-dev/glassbox/internal/auth"
)

// Defaults of Options.
const (
	DefaultRolesClaim   = "groups"
	DefaultSubjectClaim = "sub"
)

const (
	// discoveryTimeout bounds one fetch of the discovery document.
	discoveryTimeout = 10 * time.Second
	// retryAfter is how long a failed discovery is remembered before the
	// next verification tries again, so bad bearers cannot hammer the
	// issuer.
	retryAfter = 5 * time.Second
)

// Options configure a Verifier. Issuer and Audience are required.
type Options struct {
	// Issuer is the issuer URL; tokens' iss claim must equal it, and its
	// /.well-known/openid-configuration names the signing keys.
	Issuer string
	// Audience must be among the tokens' aud values.
	Audience string
	// RolesClaim names the claim (a string or list of strings; a dotted
	// path reaches into nested objects) mapped through RoleMap. Default
	// "groups".
	RolesClaim string
	// SubjectClaim names the claim identifying the caller. Default "sub".
	SubjectClaim string
	// RoleMap maps roles-claim values to Glassbox roles.
	RoleMap map[string][]string
	// HTTPClient fetches discovery and keys; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock for expiry checks; nil means time.Now.
	Now func() time.Time
}

// Verifier verifies access tokens. Discovery happens on the first
// verification (and again after a failure), so the issuer need not be up
// when Glassbox starts. It is safe for concurrent use.
type Verifier struct {
	opts Options

	mu       sync.Mutex
	verifier *gooidc.IDTokenVerifier
	lastErr  error
	failedAt time.Time
}

// New checks opts and returns a Verifier. ctx is unused beyond the call;
// discovery is lazy (see Verifier).
func New(_ context.Context, opts Options) (*Verifier, error) {
	if opts.Issuer == "" {
		return nil, errors.New("oidc: Options.Issuer is required")
	}
	if opts.Audience == "" {
		return nil, errors.New("oidc: Options.Audience is required")
	}
	if opts.RolesClaim == "" {
		opts.RolesClaim = DefaultRolesClaim
	}
	if opts.SubjectClaim == "" {
		opts.SubjectClaim = DefaultSubjectClaim
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{opts: opts}, nil
}

// Discover fetches the issuer's discovery document now, rather than on the
// first verification, and returns its error.
func (v *Verifier) Discover(ctx context.Context) error {
	_, err := v.idVerifier(ctx)
	return err
}

// idVerifier returns go-oidc's verifier, discovering the issuer if need be.
func (v *Verifier) idVerifier(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	now := v.opts.Now()
	if d := now.Sub(v.failedAt); v.lastErr != nil && d >= 0 && d < retryAfter {
		return nil, v.lastErr
	}
	dctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, v.opts.HTTPClient), discoveryTimeout)
	defer cancel()
	p, err := gooidc.NewProvider(dctx, v.opts.Issuer)
	if err != nil {
		v.lastErr, v.failedAt = fmt.Errorf("oidc: discover issuer %s: %w", v.opts.Issuer, err), now
		return nil, v.lastErr
	}
	v.verifier = p.Verifier(&gooidc.Config{ClientID: v.opts.Audience, Now: v.opts.Now})
	v.lastErr = nil
	return v.verifier, nil
}

// VerifyAccessToken implements api.TokenVerifier: it checks raw's
// signature, issuer, audience and expiry, and returns the principal
// "oidc:<subject>" with the roles its roles claim maps to (possibly none).
func (v *Verifier) VerifyAccessToken(ctx context.Context, raw string) (auth.Principal, error) {
	iv, err := v.idVerifier(ctx)
	if err != nil {
		return auth.Principal{}, err
	}
	tok, err := iv.Verify(ctx, raw)
	if err != nil {
		return auth.Principal{}, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return auth.Principal{}, fmt.Errorf("oidc: decode claims: %w", err)
	}
	sub, _ := lookup(claims, v.opts.SubjectClaim).(string)
	if sub == "" {
		return auth.Principal{}, fmt.Errorf("oidc: token has no %s claim", v.opts.SubjectClaim)
	}
	p := auth.Principal{ID: "oidc:" + sub}
	for _, c := range []string{"email", "preferred_username"} {
		if s, _ := claims[c].(string); s != "" {
			p.Name = s
			break
		}
	}
	p.Roles = v.mapRoles(lookup(claims, v.opts.RolesClaim))
	return p, nil
}

// mapRoles maps the roles claim's values (a string or a list) through
// RoleMap, each role once, in claim order.
func (v *Verifier) mapRoles(claim any) []string {
	var values []string
	switch c := claim.(type) {
	case string:
		values = []string{c}
	case []any:
		for _, e := range c {
			if s, ok := e.(string); ok {
				values = append(values, s)
			}
		}
	}
	var roles []string
	seen := map[string]bool{}
	for _, val := range values {
		for _, r := range v.opts.RoleMap[val] {
			if !seen[r] {
				seen[r] = true
				roles = append(roles, r)
			}
		}
	}
	return roles
}

// lookup returns the claim named name: a top-level claim of that exact
// name, else the value at the dotted path through nested objects; nil if
// absent.
func lookup(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
