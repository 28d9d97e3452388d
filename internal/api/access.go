package api

import (
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/auth"
)

// adminRole may grant any role.
const adminRole = "admin"

// maxTokenName bounds a token's name, in characters.
const maxTokenName = 100

// globalActions are the actions that apply to the control plane as a
// whole, whatever a grant's endpoint selector says. Any action not listed
// (including one added to auth later) counts as endpoint-scoped when
// checking for privilege escalation, which errs on the side of refusing.
var globalActions = []auth.Action{auth.CapturesReindex, auth.TokensRead, auth.TokensWrite, auth.RolesRead, auth.AuditRead}

// createTokenRequest is the body of POST /tokens.
type createTokenRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// TTL is a Go duration ("720h"); "" means the token never expires.
	TTL string `json:"ttl"`
}

// createdToken is the answer of POST /tokens: the stored token and, this
// once, its secret.
type createdToken struct {
	Secret string `json:"token"`
	auth.Token
}

// listTokens serves GET /tokens: every token, oldest first, never a hash
// or secret.
func (a *API) listTokens(_ *call, w http.ResponseWriter, r *http.Request) error {
	pg, err := parsePage(r, "tokens")
	if err != nil {
		return err
	}
	toks, err := a.store.ListTokens(r.Context())
	if err != nil {
		return err
	}
	slices.SortFunc(toks, func(x, y auth.Token) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	out := list[auth.Token]{Items: []auth.Token{}}
	for _, t := range toks {
		if pg.after != nil {
			if c := t.CreatedAt.Compare(pg.after.Time); c < 0 || c == 0 && t.ID <= pg.after.Key {
				continue
			}
		}
		if len(out.Items) == pg.limit {
			last := out.Items[len(out.Items)-1]
			out.Next = cursor{Kind: "tokens", Key: last.ID, Time: last.CreatedAt}.encode()
			break
		}
		t.Hash = "" // never leaves the server (also json:"-")
		out.Items = append(out.Items, t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createToken serves POST /tokens: 201 with the secret, shown once. The
// roles must exist, and a caller who is not admin may grant only what it
// holds itself.
func (a *API) createToken(c *call, w http.ResponseWriter, r *http.Request) error {
	if _, err := bodyFormat(r, false); err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var req createTokenRequest
	if err := decodeJSON(b, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len([]rune(req.Name)) > maxTokenName || strings.ContainsFunc(req.Name, unicode.IsControl) {
		return glassbox.Errorf(glassbox.EInvalid, "name: 1 to %d printable characters saying who or what uses the token", maxTokenName)
	}
	if len(req.Roles) == 0 {
		return glassbox.Errorf(glassbox.EInvalid, "roles: at least one role")
	}
	var ttl time.Duration
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl <= 0 {
			return glassbox.Errorf(glassbox.EInvalid, "ttl %q: want a positive duration such as 720h, or \"\" for no expiry", truncate(req.TTL, 32))
		}
	}
	roles := make([]string, 0, len(req.Roles))
	for i, name := range req.Roles {
		role, ok := a.authz.Role(name)
		if !ok {
			return glassbox.Errorf(glassbox.EInvalid, "roles[%d]: no role %q (roles: %s)", i, truncate(name, 64), strings.Join(a.roleNames(), ", "))
		}
		if slices.Contains(roles, name) {
			continue
		}
		if missing := a.notHeld(c.principal, role); missing != "" {
			return glassbox.Errorf(glassbox.EForbidden, "%s may not grant role %s: it does not hold %s itself", c.principal.ID, name, missing)
		}
		roles = append(roles, name)
	}
	plain, tok := auth.NewToken(req.Name, roles, c.principal.ID, a.now(), ttl)
	c.resource = "token/" + tok.ID
	c.detail("roles=%s ttl=%s", strings.Join(roles, ","), req.TTL)
	if err := a.store.CreateToken(r.Context(), tok); err != nil {
		return err
	}
	tok.Hash = ""
	writeJSON(w, http.StatusCreated, createdToken{Secret: plain, Token: tok})
	return nil
}

// roleNames lists every role name.
func (a *API) roleNames() []string {
	var names []string
	for _, r := range a.authz.Roles() {
		names = append(names, r.Name)
	}
	return names
}

// notHeld returns "" when p holds everything role grants (or p is an
// admin), else the first grant p lacks, as "ACTION on SELECTOR".
func (a *API) notHeld(p auth.Principal, role auth.Role) string {
	if slices.Contains(p.Roles, adminRole) {
		return ""
	}
	for _, g := range role.Grants {
		for _, act := range g.Actions {
			if !a.holds(p, act, g.Endpoints) {
				if len(g.Endpoints.Names) == 0 && len(g.Endpoints.Tags) == 0 || slices.Contains(globalActions, act) {
					return string(act)
				}
				return string(act) + " on the endpoints it selects"
			}
		}
	}
	return ""
}

// holds reports whether p may do act on every endpoint sel selects.
func (a *API) holds(p auth.Principal, act auth.Action, sel auth.Selector) bool {
	for _, rn := range p.Roles {
		role, ok := a.authz.Role(rn)
		if !ok {
			continue
		}
		for _, g := range role.Grants {
			if !slices.Contains(g.Actions, act) {
				continue
			}
			if slices.Contains(globalActions, act) || selectorCovers(g.Endpoints, sel) {
				return true
			}
		}
	}
	return false
}

// selectorCovers reports whether every endpoint want selects is also
// selected by have. It is sound, not complete: it may say no to patterns
// that in fact nest, never yes to ones that do not.
func selectorCovers(have, want auth.Selector) bool {
	for k, v := range have.Tags {
		if w, ok := want.Tags[k]; !ok || w != v {
			return false
		}
	}
	if len(have.Names) == 0 {
		return true
	}
	if len(want.Names) == 0 {
		return false
	}
	for _, wp := range want.Names {
		ok := false
		for _, hp := range have.Names {
			if wp == hp {
				ok = true
				break
			}
			if !strings.ContainsAny(wp, `*?[\`) {
				if m, _ := path.Match(hp, wp); m {
					ok = true
					break
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// revokeToken serves DELETE /tokens/{id}: 204; revoking twice is fine.
func (a *API) revokeToken(_ *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := a.store.Token(ctx, id); err != nil {
		return err
	}
	if err := a.store.RevokeToken(ctx, id, a.now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// roleDetail is the answer of GET /roles/{name}.
type roleDetail struct {
	auth.Role
	// Explain is the role in words, one line per action.
	Explain string `json:"explain"`
}

// listRoles serves GET /roles: built-in and custom roles by name.
func (a *API) listRoles(_ *call, w http.ResponseWriter, r *http.Request) error {
	pg, err := parsePage(r, "roles")
	if err != nil {
		return err
	}
	out := list[auth.Role]{Items: []auth.Role{}}
	for _, role := range a.authz.Roles() {
		if pg.after != nil && role.Name <= pg.after.Key {
			continue
		}
		if len(out.Items) == pg.limit {
			out.Next = cursor{Kind: "roles", Key: out.Items[len(out.Items)-1].Name}.encode()
			break
		}
		out.Items = append(out.Items, role)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getRole serves GET /roles/{name} with its explanation.
func (a *API) getRole(_ *call, w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	role, ok := a.authz.Role(name)
	if !ok {
		return glassbox.Errorf(glassbox.ENotFound, "no role %q (roles: %s)", truncate(name, 64), strings.Join(a.roleNames(), ", "))
	}
	text, err := a.authz.Explain(name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, roleDetail{Role: role, Explain: text})
	return nil
}

// listAudit serves GET /audit-log: events in sequence order, filtered,
// paged by sequence number (?after=SEQ, or ?next= with the previous
// page's next value, which is the same number).
func (a *API) listAudit(_ *call, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Resource: q.Get("resource")}
	var err error
	if f.Since, err = timeParam(r, "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(r, "until"); err != nil {
		return err
	}
	for _, p := range []string{"after", "next"} {
		if s := q.Get(p); s != "" {
			if f.AfterSeq, err = strconv.ParseInt(s, 10, 64); err != nil || f.AfterSeq < 0 {
				return glassbox.Errorf(glassbox.EInvalid, "%s %q: want an event sequence number", p, truncate(s, 32))
			}
		}
	}
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	f.Limit = limit + 1
	events, err := a.store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := list[audit.Event]{Items: events}
	if len(events) > limit {
		out.Items = events[:limit]
		out.Next = strconv.FormatInt(events[limit-1].Seq, 10)
	}
	if out.Items == nil {
		out.Items = []audit.Event{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// exportAudit serves GET /audit-log/export: every event as JSON Lines,
// streamed.
func (a *API) exportAudit(c *call, w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	var enc *json.Encoder
	n := 0
	err := a.store.EachAudit(r.Context(), func(e audit.Event) error {
		if enc == nil {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Cache-Control", "no-store")
			enc = json.NewEncoder(w)
			enc.SetEscapeHTML(false)
		}
		n++
		if n%256 == 0 {
			_ = rc.Flush() // streaming is a nicety; a writer without Flush still works
		}
		return enc.Encode(e)
	})
	c.detail("events=%d", n)
	if err != nil {
		return err
	}
	if enc == nil { // an empty log
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// verifyResult is the answer of GET /audit-log/verify.
type verifyResult struct {
	OK       bool            `json:"ok"`
	Checked  int64           `json:"checked"`
	Problems []audit.Problem `json:"problems"`
}

// verifyAudit serves GET /audit-log/verify: the hash chain checked event
// by event.
func (a *API) verifyAudit(c *call, w http.ResponseWriter, r *http.Request) error {
	var v audit.Verifier
	if err := a.store.EachAudit(r.Context(), func(e audit.Event) error {
		v.Add(e)
		return nil
	}); err != nil {
		return err
	}
	out := verifyResult{OK: len(v.Problems) == 0, Checked: v.Checked, Problems: v.Problems}
	if out.Problems == nil {
		out.Problems = []audit.Problem{}
	}
	c.detail("checked=%d problems=%d", v.Checked, len(v.Problems))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// whoamiResult is the answer of GET /whoami.
type whoamiResult struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// whoami serves GET /whoami: the caller's principal.
func (a *API) whoami(c *call, w http.ResponseWriter, _ *http.Request) error {
	roles := c.principal.Roles
	if roles == nil {
		roles = []string{}
	}
	writeJSON(w, http.StatusOK, whoamiResult{ID: c.principal.ID, Name: c.principal.Name, Roles: roles})
	return nil
}
