// Package auth owns who may do what: principals, actions on resources,
// roles built from grants, the built-in least-privilege role templates, the
// Authorizer that decides, and opaque API tokens (generated here, stored
// only as hashes by the metadata store).
//
// It is a domain package: it imports no HTTP, SQL or config packages.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Action is something a principal may do.
type Action string

// Actions. Capture reads are split: metadata (ids, times, statuses, object
// locations) and payloads (the request and response bodies).
const (
	EndpointsRead        Action = "endpoints:read"
	EndpointsWrite       Action = "endpoints:write"
	CapturesReadMetadata Action = "captures:read-metadata"
	CapturesReadPayload  Action = "captures:read-payload"
	CapturesReindex      Action = "captures:reindex"
	TokensRead           Action = "tokens:read"
	TokensWrite          Action = "tokens:write"
	RolesRead            Action = "roles:read"
	AuditRead            Action = "audit:read"
	Invoke               Action = "endpoints:invoke"
	// MonitorRead reads an endpoint's monitoring schedules and executions;
	// MonitorRun starts a monitoring run by hand.
	MonitorRead Action = "monitor:read"
	MonitorRun  Action = "monitor:run"
	// ComplianceRead reads the compliance report of every endpoint
	// (GET /api/v1/compliance).
	ComplianceRead Action = "compliance:read"
	// CostRead reads captured volume, projected cost, budgets, anomalies
	// and idle endpoints (GET /api/v1/cost).
	CostRead Action = "cost:read"
)

// AllActions lists every action, for validation and explanations.
var AllActions = []Action{EndpointsRead, EndpointsWrite, CapturesReadMetadata, CapturesReadPayload,
	CapturesReindex, TokensRead, TokensWrite, RolesRead, AuditRead, Invoke, MonitorRead, MonitorRun, ComplianceRead, CostRead}

// endpointScoped actions apply to endpoints (and their captures); the others
// apply to the control plane as a whole.
var endpointScoped = map[Action]bool{EndpointsRead: true, EndpointsWrite: true,
	CapturesReadMetadata: true, CapturesReadPayload: true, Invoke: true, MonitorRead: true, MonitorRun: true}

// Selector picks endpoints: by name pattern (path.Match syntax: "*",
// "churn-*") and/or by tags that must all match. An empty selector matches
// every endpoint.
type Selector struct {
	Names []string          `json:"names,omitempty" yaml:"names,omitempty"`
	Tags  map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
}

// Matches reports whether an endpoint with this name and tags is selected.
func (s Selector) Matches(name string, tags map[string]string) bool {
	if len(s.Names) > 0 {
		ok := false
		for _, p := range s.Names {
			if m, _ := path.Match(p, name); m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for k, v := range s.Tags {
		if tags[k] != v {
			return false
		}
	}
	return true
}

// Grant allows actions, on the endpoints its selector picks for
// endpoint-scoped actions.
type Grant struct {
	Actions   []Action `json:"actions" yaml:"actions"`
	Endpoints Selector `json:"endpoints,omitempty" yaml:"endpoints,omitempty"`
}

// Role is a named set of grants.
type Role struct {
	Name        string  `json:"name" yaml:"name"`
	Description string  `json:"description" yaml:"description"`
	Grants      []Grant `json:"grants" yaml:"grants"`
	BuiltIn     bool    `json:"built_in" yaml:"-"`
}

// Templates returns the built-in least-privilege roles.
func Templates() []Role {
	all := Selector{}
	return []Role{
		{Name: "admin", BuiltIn: true, Description: "everything, including tokens and payloads",
			Grants: []Grant{{Actions: AllActions, Endpoints: all}}},
		{Name: "ml-engineer", BuiltIn: true, Description: "manage endpoints, read captures with payloads, invoke, run monitors; no tokens or audit log",
			Grants: []Grant{{Actions: []Action{EndpointsRead, EndpointsWrite, CapturesReadMetadata, CapturesReadPayload, CapturesReindex, Invoke, RolesRead, MonitorRead, MonitorRun, ComplianceRead, CostRead}, Endpoints: all}}},
		{Name: "data-scientist", BuiltIn: true, Description: "read endpoints, captures with payloads and monitoring results; change nothing",
			Grants: []Grant{{Actions: []Action{EndpointsRead, CapturesReadMetadata, CapturesReadPayload, RolesRead, MonitorRead}, Endpoints: all}}},
		{Name: "auditor", BuiltIn: true, Description: "read-only everything including the audit log and token list, but no payloads",
			Grants: []Grant{{Actions: []Action{EndpointsRead, CapturesReadMetadata, TokensRead, RolesRead, AuditRead, MonitorRead, ComplianceRead, CostRead}, Endpoints: all}}},
		{Name: "invoker", BuiltIn: true, Description: "call model endpoints (data plane) and nothing else",
			Grants: []Grant{{Actions: []Action{Invoke}, Endpoints: all}}},
		{Name: "viewer", BuiltIn: true, Description: "see endpoints, capture metadata and monitoring results; no payloads",
			Grants: []Grant{{Actions: []Action{EndpointsRead, CapturesReadMetadata, RolesRead, MonitorRead, ComplianceRead, CostRead}, Endpoints: all}}},
	}
}

// Principal is an authenticated caller.
type Principal struct {
	// ID is stable and names the principal in the audit log:
	// "token:<id>", "oidc:<subject>", "system".
	ID    string
	Name  string
	Roles []string
}

// Resource is what an action applies to. Endpoint-scoped actions name an
// endpoint (and its tags); others leave Endpoint empty.
type Resource struct {
	Endpoint string
	Tags     map[string]string
}

// Authorizer decides whether a principal may act. It is immutable once
// built and safe for concurrent use.
type Authorizer struct {
	roles map[string]Role
}

// NewAuthorizer builds an authorizer from the built-in templates plus
// custom roles; a custom role may not reuse a built-in name.
func NewAuthorizer(custom []Role) (*Authorizer, error) {
	a := &Authorizer{roles: map[string]Role{}}
	for _, r := range Templates() {
		a.roles[r.Name] = r
	}
	known := map[Action]bool{}
	for _, act := range AllActions {
		known[act] = true
	}
	for i, r := range custom {
		if r.Name == "" {
			return nil, fmt.Errorf("roles[%d]: a role needs a name", i)
		}
		if _, dup := a.roles[r.Name]; dup {
			return nil, fmt.Errorf("roles[%d]: role %q is already defined (built-in or duplicate)", i, r.Name)
		}
		for j, g := range r.Grants {
			for _, act := range g.Actions {
				if !known[act] {
					return nil, fmt.Errorf("roles[%d].grants[%d]: unknown action %q (known: %s)", i, j, act, joinActions(AllActions))
				}
			}
			for _, p := range g.Endpoints.Names {
				if _, err := path.Match(p, ""); err != nil {
					return nil, fmt.Errorf("roles[%d].grants[%d].endpoints.names: bad pattern %q", i, j, p)
				}
			}
		}
		a.roles[r.Name] = r
	}
	return a, nil
}

// Role returns a role by name.
func (a *Authorizer) Role(name string) (Role, bool) {
	r, ok := a.roles[name]
	return r, ok
}

// Roles returns every role, sorted by name.
func (a *Authorizer) Roles() []Role {
	out := make([]Role, 0, len(a.roles))
	for _, r := range a.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Allowed reports whether p may do act on res. For an endpoint-scoped
// action with an empty res.Endpoint it answers "on some endpoint?"; list
// handlers then filter item by item.
func (a *Authorizer) Allowed(p Principal, act Action, res Resource) bool {
	for _, rn := range p.Roles {
		r, ok := a.roles[rn]
		if !ok {
			continue
		}
		for _, g := range r.Grants {
			if !hasAction(g.Actions, act) {
				continue
			}
			if !endpointScoped[act] || res.Endpoint == "" || g.Endpoints.Matches(res.Endpoint, res.Tags) {
				return true
			}
		}
	}
	return false
}

// hasAction reports whether list holds act.
func hasAction(list []Action, act Action) bool {
	for _, a := range list {
		if a == act {
			return true
		}
	}
	return false
}

// Explain describes what a role may do, one line per grant, for
// 'glassbox roles explain'.
func (a *Authorizer) Explain(name string) (string, error) {
	r, ok := a.roles[name]
	if !ok {
		names := make([]string, 0, len(a.roles))
		for n := range a.roles {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("no role %q (roles: %s)", name, strings.Join(names, ", "))
	}
	var b strings.Builder
	kind := "custom"
	if r.BuiltIn {
		kind = "built-in"
	}
	fmt.Fprintf(&b, "%s (%s): %s\n", r.Name, kind, r.Description)
	allowed := map[Action]bool{}
	for _, g := range r.Grants {
		for _, act := range g.Actions {
			allowed[act] = true
			scope := ""
			if endpointScoped[act] {
				scope = " on " + describeSelector(g.Endpoints)
			}
			fmt.Fprintf(&b, "  may   %-24s%s\n", act, scope)
		}
	}
	for _, act := range AllActions {
		if !allowed[act] {
			fmt.Fprintf(&b, "  never %s\n", act)
		}
	}
	return b.String(), nil
}

func describeSelector(s Selector) string {
	if len(s.Names) == 0 && len(s.Tags) == 0 {
		return "all endpoints"
	}
	var parts []string
	if len(s.Names) > 0 {
		parts = append(parts, "endpoints named "+strings.Join(s.Names, " or "))
	}
	keys := make([]string, 0, len(s.Tags))
	for k := range s.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("tag %s=%s", k, s.Tags[k]))
	}
	return strings.Join(parts, " with ")
}

func joinActions(acts []Action) string {
	s := make([]string, len(acts))
	for i, a := range acts {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// ---- tokens ----

// TokenPrefix starts every Glassbox API token, so secret scanners and
// people recognise one.
const TokenPrefix = "gbx_"

// Token is an API token as stored: never the secret, only its hash.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Roles     []string   `json:"roles"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	LastUsed  *time.Time `json:"last_used_at,omitempty"`
}

// Errors of token checks.
var (
	ErrBadToken     = errors.New("malformed token")
	ErrUnknownToken = errors.New("unknown token")
	ErrRevoked      = errors.New("token revoked")
	ErrExpired      = errors.New("token expired")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a fresh secret ("gbx_<id>_<secret>", shown once) and the
// Token to store (with its hash). The id is public and names the token in
// lists and in the audit log.
func NewToken(name string, roles []string, createdBy string, now time.Time, ttl time.Duration) (string, Token) {
	var id [5]byte
	var secret [20]byte
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(secret[:])
	tid := strings.ToLower(b32.EncodeToString(id[:]))
	plain := TokenPrefix + tid + "_" + strings.ToLower(b32.EncodeToString(secret[:]))
	t := Token{ID: tid, Name: name, Roles: roles, Hash: HashToken(plain), CreatedAt: now.UTC(), CreatedBy: createdBy}
	if ttl > 0 {
		exp := now.Add(ttl).UTC()
		t.ExpiresAt = &exp
	}
	return plain, t
}

// HashToken returns the stored form of a token secret.
func HashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// ParseTokenID returns the id part of a presented token.
func ParseTokenID(plain string) (string, error) {
	rest, ok := strings.CutPrefix(plain, TokenPrefix)
	if !ok {
		return "", ErrBadToken
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 8 || len(secret) != 32 {
		return "", ErrBadToken
	}
	return id, nil
}

// Check verifies a presented secret against the stored token.
func (t *Token) Check(plain string, now time.Time) error {
	if subtle.ConstantTimeCompare([]byte(HashToken(plain)), []byte(t.Hash)) != 1 {
		return ErrUnknownToken
	}
	if t.RevokedAt != nil {
		return ErrRevoked
	}
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return ErrExpired
	}
	return nil
}

// TokenStore is what tokens need from the metadata store.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	// Token returns the token with this id, or an error wrapping
	// ErrUnknownToken.
	Token(ctx context.Context, id string) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken sets RevokedAt; revoking twice is not an error.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	TouchToken(ctx context.Context, id string, at time.Time) error
}
