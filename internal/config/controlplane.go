package config

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Data-plane authentication modes of an endpoint.
const (
	AuthNone  = "none"
	AuthToken = "token"
)

// Policies are rules every endpoint must meet; the gateway refuses (at
// start, and on every API change) an endpoint that breaks one, naming the
// rule. Rules keyed by tier use the endpoint's "tier" tag; "default"
// applies to endpoints without a tier or with a tier not listed.
type Policies struct {
	// RequireCapture refuses endpoints with capture.enabled: false.
	RequireCapture bool `yaml:"require_capture"`
	// MinSamplingPercent is the lowest capture.sampling_percent allowed,
	// by tier, e.g. {default: 10, audit-critical: 100}.
	MinSamplingPercent map[string]float64 `yaml:"min_sampling_percent"`
	// RequiredTags lists tags every endpoint must carry, e.g. [owner,
	// cost-center].
	RequiredTags []string `yaml:"required_tags"`
}

// Role is a custom role: a name and grants of actions, optionally limited to
// endpoints selected by name pattern and tags. Built-in roles (admin,
// ml-engineer, data-scientist, auditor, invoker, viewer) need no entry.
type Role struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Grants      []Grant `yaml:"grants"`
}

// Grant is one set of actions of a custom role.
type Grant struct {
	// Actions are action names such as endpoints:read or
	// captures:read-payload (see docs/config.md for the list).
	Actions []string `yaml:"actions"`
	// Endpoints limits endpoint-scoped actions; empty means all endpoints.
	Endpoints EndpointSelector `yaml:"endpoints"`
}

// EndpointSelector picks endpoints by name pattern ("churn-*") and tags.
type EndpointSelector struct {
	Names []string          `yaml:"names"`
	Tags  map[string]string `yaml:"tags"`
}

var roleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ActionNames lists the action names a custom role may grant. It mirrors
// the auth package's actions (config may not import it); a test keeps the
// two lists equal.
var ActionNames = []string{"endpoints:read", "endpoints:write", "endpoints:invoke",
	"captures:read-metadata", "captures:read-payload", "captures:reindex",
	"tokens:read", "tokens:write", "roles:read", "audit:read", "monitor:read", "monitor:run",
	"compliance:read", "cost:read"}

func (p *Policies) validate(ps *problems) {
	tiers := make([]string, 0, len(p.MinSamplingPercent))
	for t := range p.MinSamplingPercent {
		tiers = append(tiers, t)
	}
	sort.Strings(tiers)
	for _, t := range tiers {
		if v := p.MinSamplingPercent[t]; v < 0 || v > 100 {
			ps.add("policies.min_sampling_percent."+t, "must be between 0 and 100, not %v", v)
		}
	}
	seen := map[string]bool{}
	for i, tag := range p.RequiredTags {
		if strings.TrimSpace(tag) == "" {
			ps.add(fmt.Sprintf("policies.required_tags[%d]", i), "must not be empty")
		} else if seen[tag] {
			ps.add(fmt.Sprintf("policies.required_tags[%d]", i), "duplicate tag %s", quote(tag))
		}
		seen[tag] = true
	}
}

func validateRoles(roles []Role, ps *problems) {
	builtin := map[string]bool{"admin": true, "ml-engineer": true, "data-scientist": true, "auditor": true, "invoker": true, "viewer": true}
	known := map[string]bool{}
	for _, a := range ActionNames {
		known[a] = true
	}
	names := map[string]int{}
	for i, r := range roles {
		p := fmt.Sprintf("roles[%d]", i)
		switch {
		case !roleNameRE.MatchString(r.Name):
			ps.add(p+".name", "%s is not a role name (lowercase letters, digits and '-', at most 63)", quote(r.Name))
		case builtin[r.Name]:
			ps.add(p+".name", "%s is a built-in role; pick another name", quote(r.Name))
		default:
			if j, dup := names[r.Name]; dup {
				ps.add(p+".name", "duplicate role %s (also roles[%d])", quote(r.Name), j)
			}
			names[r.Name] = i
		}
		if len(r.Grants) == 0 {
			ps.add(p+".grants", "a role needs at least one grant")
		}
		for j, g := range r.Grants {
			gp := fmt.Sprintf("%s.grants[%d]", p, j)
			if len(g.Actions) == 0 {
				ps.add(gp+".actions", "a grant needs at least one action")
			}
			for k, a := range g.Actions {
				if !known[a] {
					ps.add(fmt.Sprintf("%s.actions[%d]", gp, k), "unknown action %s (known: %s)", quote(a), strings.Join(ActionNames, ", "))
				}
			}
			for k, n := range g.Endpoints.Names {
				if _, err := path.Match(n, ""); err != nil || n == "" {
					ps.add(fmt.Sprintf("%s.endpoints.names[%d]", gp, k), "%s is not a name pattern", quote(n))
				}
			}
		}
	}
}

// CheckPolicies checks one endpoint against the policies and returns every
// broken rule as a Problem under path.
func (p *Policies) CheckPolicies(e *Endpoint, path string) []Problem {
	var ps problems
	tier := e.Tags["tier"]
	if p.RequireCapture && !e.Capture.IsEnabled() {
		ps.add(path+".capture.enabled", "policy require_capture: capture must be enabled")
	}
	if e.Capture.IsEnabled() || p.RequireCapture {
		min, ok := p.MinSamplingPercent[tier]
		key := tier
		if !ok || tier == "" {
			min, ok = p.MinSamplingPercent["default"]
			key = "default"
		}
		if ok && e.Capture.Sampling() < min {
			ps.add(path+".capture.sampling_percent", "policy min_sampling_percent.%s: must be at least %v, not %v", key, min, e.Capture.Sampling())
		}
	}
	for _, tag := range p.RequiredTags {
		if strings.TrimSpace(e.Tags[tag]) == "" {
			ps.add(path+".tags", "policy required_tags: tag %s is missing", quote(tag))
		}
	}
	return ps
}

// ParseEndpoint parses one endpoint declaration — YAML or JSON of one
// element of the endpoints list — strictly, applies its defaults, and
// checks it against the schema and the policies. Problem paths are
// relative to the endpoint ("capture.sampling_percent").
func ParseEndpoint(spec []byte, policies Policies) (*Endpoint, error) {
	var raw any
	if err := yaml.Unmarshal(spec, &raw); err != nil {
		return nil, ValidationError{Problems: []Problem{{Message: "not a YAML or JSON endpoint declaration: " + err.Error()}}}
	}
	if _, ok := raw.(map[string]any); !ok {
		return nil, ValidationError{Problems: []Problem{{Message: "an endpoint declaration must be a mapping (name, variants, capture, ...)"}}}
	}
	doc, err := yaml.Marshal(map[string]any{"policies": policies, "endpoints": []any{raw}})
	if err != nil {
		return nil, fmt.Errorf("parse endpoint: %w", err)
	}
	cfg, err := Parse(doc)
	if err != nil {
		var ve ValidationError
		if errors.As(err, &ve) {
			for i := range ve.Problems {
				ve.Problems[i].Path = strings.TrimPrefix(strings.TrimPrefix(ve.Problems[i].Path, "endpoints[0]"), ".")
				ve.Problems[i].Message = lineRE.ReplaceAllString(ve.Problems[i].Message, "")
			}
			return nil, ve
		}
		return nil, err
	}
	return &cfg.Endpoints[0], nil
}

// lineRE matches the " (line N)" suffix of decoding problems, which would
// point into the wrapper document rather than the caller's.
var lineRE = regexp.MustCompile(` \(line \d+\)`)

// MarshalEndpoint returns the normalized YAML of an endpoint, as the
// metadata store keeps it.
func MarshalEndpoint(e *Endpoint) ([]byte, error) {
	return yaml.Marshal(e)
}
