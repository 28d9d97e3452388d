package config

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// OIDC configures OpenID Connect access-token authentication of the
// control-plane API: a bearer that is not a gbx_ API token is verified as
// a JWT signed by Issuer (keys from its discovery document) and addressed
// to Audience; its roles claim values are mapped to Glassbox roles.
type OIDC struct {
	// Issuer is the issuer URL, exactly as in the tokens' iss claim:
	// https, or http only for 127.0.0.1 or localhost. Default "" (OIDC off).
	Issuer string `yaml:"issuer"`
	// Audience is the value the tokens' aud claim must contain. Required
	// with Issuer.
	Audience string `yaml:"audience"`
	// RolesClaim names the claim holding the caller's groups or roles (a
	// string or a list of strings); a dotted path such as
	// "realm_access.roles" reaches into nested objects. Default "groups".
	RolesClaim string `yaml:"roles_claim"`
	// RoleMap maps roles-claim values to Glassbox roles, built-in or
	// declared under roles. Values without an entry grant nothing.
	RoleMap map[string][]string `yaml:"role_map"`
	// SubjectClaim names the claim that identifies the caller; the audit
	// actor is "oidc:<value>". Default "sub".
	SubjectClaim string `yaml:"subject_claim"`
}

// Enabled reports whether OIDC authentication is configured.
func (o *OIDC) Enabled() bool { return o.Issuer != "" }

var builtinRoles = map[string]bool{"admin": true, "ml-engineer": true, "data-scientist": true, "auditor": true, "invoker": true, "viewer": true}

func (o *OIDC) validate(roles []Role, ps *problems) {
	if o.Issuer == "" {
		if o.Audience != "" {
			ps.add("oidc.audience", "is set but oidc.issuer is empty (OIDC is off)")
		}
		if len(o.RoleMap) > 0 {
			ps.add("oidc.role_map", "is set but oidc.issuer is empty (OIDC is off)")
		}
	} else {
		if err := checkIssuer(o.Issuer); err != nil {
			ps.add("oidc.issuer", "%v", err)
		}
		if strings.TrimSpace(o.Audience) == "" {
			ps.add("oidc.audience", "is required with oidc.issuer")
		}
	}
	checkClaimPath(ps, "oidc.roles_claim", o.RolesClaim)
	checkClaimPath(ps, "oidc.subject_claim", o.SubjectClaim)
	known := map[string]bool{}
	for r := range builtinRoles {
		known[r] = true
	}
	for _, r := range roles {
		known[r.Name] = true
	}
	keys := make([]string, 0, len(o.RoleMap))
	for k := range o.RoleMap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := "oidc.role_map." + k
		if k == "" {
			ps.add("oidc.role_map", "a claim value must not be empty")
		}
		if len(o.RoleMap[k]) == 0 {
			ps.add(p, "maps to no role")
		}
		for i, r := range o.RoleMap[k] {
			if !known[r] {
				ps.add(fmt.Sprintf("%s[%d]", p, i), "unknown role %s (built-in or declared under roles)", quote(r))
			}
		}
	}
}

// checkIssuer checks an issuer URL: https, or http for a loopback host
// (127.0.0.1, ::1 or localhost), without query or fragment.
func checkIssuer(raw string) error {
	if err := checkHTTPURL(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.Scheme == "http" {
		switch u.Hostname() {
		case "127.0.0.1", "::1", "localhost":
		default:
			return fmt.Errorf("invalid issuer %s: must be https (http only for 127.0.0.1 or localhost)", quote(raw))
		}
	}
	return nil
}

// checkClaimPath checks a claim name or dotted path of claim names.
func checkClaimPath(ps *problems, path, claim string) {
	if claim == "" {
		ps.add(path, "must not be empty")
		return
	}
	for _, part := range strings.Split(claim, ".") {
		if part == "" {
			ps.add(path, "%s is not a claim name or dotted path (empty segment)", quote(claim))
			return
		}
	}
}
