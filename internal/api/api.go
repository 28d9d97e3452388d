package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

// Prefix is the path every route of the API starts with.
const Prefix = "/api/v1"

// HeaderRequestID carries the request id: honoured when the client sends a
// sane one, generated otherwise, and echoed in every response.
const HeaderRequestID = "X-Request-Id"

// Store is everything the API needs from the metadata store. *store.DB
// implements it; cmd/glassbox passes it in.
type Store interface {
	endpoints.Store
	auth.TokenStore
	audit.Store
	capture.Index
	MonitorExecutions
}

// EndpointService validates and applies endpoint changes; cmd/glassbox
// implements it (config schema + policies + gateway reload).
type EndpointService interface {
	// Prepare parses one endpoint declaration (YAML or JSON of one element
	// of the config's endpoints list), checks it against the schema and the
	// configured policies, and returns the record to store (Name, Spec as
	// YAML, Tags). Errors: *glassbox.Error with code EInvalid and a message
	// naming the field path or policy rule.
	Prepare(spec []byte) (endpoints.Record, error)
	// Reload makes the running gateway serve what the store holds now;
	// called after every successful change.
	Reload(ctx context.Context) error
}

// CaptureReader reads one record's payload from the blob store, given its
// index entry.
type CaptureReader interface {
	Read(ctx context.Context, e capture.IndexEntry) (*capture.Record, error)
}

// Defaults of Options.
const (
	DefaultRateLimit    = 20      // requests per second per principal
	DefaultRateBurst    = 40      // requests
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB
)

// Options configure an API. Store, Endpoints and Authorizer are required.
type Options struct {
	// Store is the metadata store.
	Store Store
	// Endpoints validates declarations and reloads the gateway.
	Endpoints EndpointService
	// Captures reads capture payloads; nil answers payload requests with
	// 501 (not supported).
	Captures CaptureReader
	// Monitor runs monitoring schedules by hand; nil answers run requests
	// with 501 (not supported).
	Monitor MonitorRunner
	// Compliance produces the compliance report; nil answers
	// GET /compliance with 501 (not supported).
	Compliance ComplianceReporter
	// Cost computes cost and showback results (cost.go); nil answers
	// GET /cost with 501 (not supported).
	Cost CostReporter
	// Authorizer decides what each principal may do.
	Authorizer *auth.Authorizer
	// OIDC verifies bearers that are not gbx_ API tokens as OIDC access
	// tokens; nil accepts API tokens only.
	OIDC TokenVerifier
	// Logger receives internal errors and panics; nil discards.
	Logger *slog.Logger
	// Registerer receives the API's metrics; nil registers none.
	Registerer prometheus.Registerer
	// RateLimit is the sustained requests per second allowed per principal
	// (per client address for requests without a valid token). Default 20.
	RateLimit float64
	// RateBurst is the burst allowed above RateLimit. Default 40.
	RateBurst int
	// MaxBodyBytes caps request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// Now is the clock (token expiry, audit times, rate limits); nil means
	// time.Now.
	Now func() time.Time
}

// TokenVerifier verifies an OIDC access token (a JWT) and returns the
// principal it names: ID "oidc:<subject>" and the roles its claims map to.
// Any error refuses the token (401).
type TokenVerifier interface {
	VerifyAccessToken(ctx context.Context, raw string) (auth.Principal, error)
}

// DefaultOptions returns Options with every default filled in and no
// dependencies.
func DefaultOptions() Options {
	return Options{RateLimit: DefaultRateLimit, RateBurst: DefaultRateBurst, MaxBodyBytes: DefaultMaxBodyBytes, Now: time.Now}
}

// Route is one served method and path pattern, with the action the route
// requires ("" when any authenticated principal may call it). Endpoint-
// scoped actions are checked twice: on some endpoint before the handler
// runs, and on the endpoint concerned inside it.
type Route struct {
	Method  string
	Pattern string
	Action  auth.Action
}

// API is the control-plane HTTP handler. It is safe for concurrent use.
type API struct {
	opts    Options
	store   Store
	authz   *auth.Authorizer
	log     *slog.Logger
	now     func() time.Time
	m       *metrics
	limiter *limiter
	routes  []*route
}

// handlerFunc is the shape of every handler: it writes a success answer or
// returns an error, which ServeHTTP turns into the error answer.
type handlerFunc func(c *call, w http.ResponseWriter, r *http.Request) error

// route is a Route with what serving it needs.
type route struct {
	Route
	// name is the audit action, e.g. "endpoints.update".
	name string
	// resource is the audit resource, with {param} replaced by the path
	// value, e.g. "endpoint/{name}"; handlers may refine it.
	resource string
	segs     []string
	h        handlerFunc
}

// New builds an API from opts.
func New(opts Options) (*API, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("api: Options.Store is required")
	case opts.Endpoints == nil:
		return nil, errors.New("api: Options.Endpoints is required")
	case opts.Authorizer == nil:
		return nil, errors.New("api: Options.Authorizer is required")
	case opts.RateLimit < 0 || opts.RateBurst < 0 || opts.MaxBodyBytes < 0:
		return nil, errors.New("api: RateLimit, RateBurst and MaxBodyBytes must not be negative")
	}
	d := DefaultOptions()
	if opts.RateLimit == 0 {
		opts.RateLimit = d.RateLimit
	}
	if opts.RateBurst == 0 {
		opts.RateBurst = d.RateBurst
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = d.MaxBodyBytes
	}
	if opts.Now == nil {
		opts.Now = d.Now
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	a := &API{
		opts:    opts,
		store:   opts.Store,
		authz:   opts.Authorizer,
		log:     opts.Logger,
		now:     opts.Now,
		m:       m,
		limiter: newLimiter(opts.RateLimit, opts.RateBurst),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.routes = a.table()
	return a, nil
}

// table lists every route. Routes returns it; the OpenAPI test and the
// authorization matrix test check it.
func (a *API) table() []*route {
	rt := func(method, pattern string, act auth.Action, name, resource string, h handlerFunc) *route {
		return &route{Route: Route{Method: method, Pattern: Prefix + pattern, Action: act},
			name: name, resource: resource, segs: splitPath(Prefix + pattern), h: h}
	}
	const (
		get, post, put, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	)
	return []*route{
		rt(get, "/endpoints", auth.EndpointsRead, "endpoints.list", "endpoints", a.listEndpoints),
		rt(post, "/endpoints", auth.EndpointsWrite, "endpoints.create", "endpoints", a.createEndpoint),
		rt(post, "/endpoints:apply", auth.EndpointsWrite, "endpoints.apply", "endpoints", a.applyEndpoints),
		rt(get, "/endpoints/{name}", auth.EndpointsRead, "endpoints.get", "endpoint/{name}", a.getEndpoint),
		rt(put, "/endpoints/{name}", auth.EndpointsWrite, "endpoints.update", "endpoint/{name}", a.putEndpoint),
		rt(del, "/endpoints/{name}", auth.EndpointsWrite, "endpoints.delete", "endpoint/{name}", a.deleteEndpoint),
		rt(get, "/captures", auth.CapturesReadMetadata, "captures.list", "captures", a.listCaptures),
		rt(get, "/captures/{id}", auth.CapturesReadMetadata, "captures.get", "capture/{id}", a.getCapture),
		rt(get, "/tokens", auth.TokensRead, "tokens.list", "tokens", a.listTokens),
		rt(post, "/tokens", auth.TokensWrite, "tokens.create", "tokens", a.createToken),
		rt(del, "/tokens/{id}", auth.TokensWrite, "tokens.revoke", "token/{id}", a.revokeToken),
		rt(get, "/roles", auth.RolesRead, "roles.list", "roles", a.listRoles),
		rt(get, "/roles/{name}", auth.RolesRead, "roles.get", "role/{name}", a.getRole),
		rt(get, "/audit-log", auth.AuditRead, "audit.list", "audit-log", a.listAudit),
		rt(get, "/audit-log/export", auth.AuditRead, "audit.export", "audit-log", a.exportAudit),
		rt(get, "/audit-log/verify", auth.AuditRead, "audit.verify", "audit-log", a.verifyAudit),
		rt(get, "/endpoints/{name}/monitor/schedules", auth.MonitorRead, "monitor.schedules.list", "endpoint/{name}", a.listSchedules),
		rt(post, "/endpoints/{name}/monitor/schedules/{schedule}/run", auth.MonitorRun, "monitor.run", "endpoint/{name}", a.runSchedule),
		rt(get, "/endpoints/{name}/monitor/executions", auth.MonitorRead, "monitor.executions.list", "endpoint/{name}", a.listExecutions),
		rt(get, "/monitor/executions/{id}", auth.MonitorRead, "monitor.executions.get", "monitor-execution/{id}", a.getExecution),
		rt(get, "/endpoints/{name}/monitor/features/{feature}/history", auth.MonitorRead, "monitor.features.history", "endpoint/{name}", a.featureHistory),
		rt(get, "/compliance", auth.ComplianceRead, "compliance.get", "compliance", a.getCompliance),
		rt(get, "/cost", auth.CostRead, "cost.get", "cost", a.getCost),
		rt(get, "/whoami", "", "whoami", "principal", a.whoami),
	}
}

// Routes returns every served route, in a stable order.
func (a *API) Routes() []Route {
	out := make([]Route, len(a.routes))
	for i, r := range a.routes {
		out[i] = r.Route
	}
	return out
}

// call is the state of one routed request as it moves through the
// pipeline; the audit event is built from it.
type call struct {
	rt        *route
	requestID string
	// principal is set once authentication succeeds; authed says so.
	principal auth.Principal
	authed    bool
	// resource and details go into the audit event; handlers refine them.
	resource string
	details  []string
	// err is the error answered, if any.
	err error
}

// detail adds a short key=value note to the audit event.
func (c *call) detail(format string, args ...any) {
	c.details = append(c.details, fmt.Sprintf(format, args...))
}

// ServeHTTP runs the pipeline described in the package documentation.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// 1. Request id, echoed in every answer.
	c := &call{requestID: requestID(r.Header.Get(HeaderRequestID))}
	w.Header().Set(HeaderRequestID, c.requestID)
	sw := &statusWriter{ResponseWriter: w}
	defer a.finish(c, sw, r, start)
	// 2. Recover: runs before finish (deferred later), so a panic is
	// answered and audited like any internal error.
	defer a.recoverPanic(c, sw, r)
	// 3. Body limit. The original writer lets net/http close the
	// connection after an oversized body.
	r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
	// 4. Routing: misses are answered (404/405) but not audited, since
	// they reach no handler.
	rt, err := a.match(sw, r)
	if err != nil {
		a.writeError(sw, c, err)
		return
	}
	c.rt = rt
	c.resource = expandResource(rt.resource, r)
	if err := a.serve(c, sw, r); err != nil {
		a.writeError(sw, c, err)
	}
}

// serve runs authentication, rate limiting, authorization and the handler.
func (a *API) serve(c *call, w *statusWriter, r *http.Request) error {
	p, authErr := a.authenticate(r.Context(), r)
	key := "anonymous@" + clientAddr(r)
	if authErr == nil {
		key = p.ID
		c.principal, c.authed = p, true
	}
	if ok, wait := a.limiter.allow(key, a.now()); !ok {
		secs := int(wait.Seconds() + 0.999)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		return glassbox.Errorf(codeRateLimited, "rate limit of %g requests per second exceeded; retry in %d s", a.opts.RateLimit, secs)
	}
	if authErr != nil {
		return authErr
	}
	if act := c.rt.Action; act != "" && !a.authz.Allowed(p, act, auth.Resource{}) {
		return a.forbidden(c, act, "")
	}
	return c.rt.h(c, w, r)
}

// forbidden is the 403 error for a principal lacking act (on endpoint, if
// not "").
func (a *API) forbidden(c *call, act auth.Action, endpoint string) error {
	on := ""
	if endpoint != "" {
		on = " on endpoint " + endpoint
	}
	return glassbox.Errorf(glassbox.EForbidden, "%s (roles %s) may not %s%s", c.principal.ID, strings.Join(c.principal.Roles, ", "), act, on)
}

// allowed reports whether the caller may do act on the endpoint rec.
func (a *API) allowed(c *call, act auth.Action, rec endpoints.Record) bool {
	return a.authz.Allowed(c.principal, act, auth.Resource{Endpoint: rec.Name, Tags: rec.Tags})
}

// require returns a 403 error unless the caller may do act on rec.
func (a *API) require(c *call, act auth.Action, rec endpoints.Record) error {
	if !a.allowed(c, act, rec) {
		return a.forbidden(c, act, rec.Name)
	}
	return nil
}

// match finds the route for r and sets its path values. A path served
// with other methods gives a 405 error (with Allow set), any other path
// a 404 error.
func (a *API) match(w http.ResponseWriter, r *http.Request) (*route, error) {
	segs := splitPath(r.URL.Path)
	var allow []string
	for _, rt := range a.routes {
		vals, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.Method != r.Method {
			allow = append(allow, rt.Method)
			continue
		}
		for k, v := range vals {
			r.SetPathValue(k, v)
		}
		return rt, nil
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return nil, glassbox.Errorf(codeMethodNotAllowed, "method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", "))
	}
	return nil, glassbox.Errorf(glassbox.ENotFound, "no API route %s %s (see docs/openapi.yaml)", r.Method, r.URL.Path)
}

// splitPath splits a path into its segments ("/a/b" → ["a", "b"]).
func splitPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

// matchSegs matches a path against a pattern's segments; a {name} segment
// matches any non-empty segment.
func matchSegs(pattern, path []string) (map[string]string, bool) {
	if len(pattern) != len(path) {
		return nil, false
	}
	var vals map[string]string
	for i, s := range pattern {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if path[i] == "" {
				return nil, false
			}
			if vals == nil {
				vals = map[string]string{}
			}
			vals[s[1:len(s)-1]] = path[i]
			continue
		}
		if s != path[i] {
			return nil, false
		}
	}
	return vals, true
}

// expandResource replaces {param} in an audit resource template.
func expandResource(tmpl string, r *http.Request) string {
	start := strings.IndexByte(tmpl, '{')
	end := strings.IndexByte(tmpl, '}')
	if start < 0 || end < start {
		return tmpl
	}
	return tmpl[:start] + r.PathValue(tmpl[start+1:end]) + tmpl[end+1:]
}
