package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

// sourceAPI is endpoints.Record.Source of endpoints changed through the API.
const sourceAPI = "api"

// endpointView is the JSON shape of an endpoint: the stored record with
// its declaration (Spec) as a JSON object.
type endpointView struct {
	Name      string            `json:"name"`
	Version   int64             `json:"version"`
	Tags      map[string]string `json:"tags,omitempty"`
	UpdatedAt time.Time         `json:"updated_at"`
	UpdatedBy string            `json:"updated_by"`
	Source    string            `json:"source"`
	Spec      any               `json:"spec"`
}

// viewOf returns the JSON shape of rec.
func viewOf(rec endpoints.Record) (endpointView, error) {
	spec, err := specValue(rec.Spec)
	if err != nil {
		return endpointView{}, fmt.Errorf("endpoint %s: stored spec: %w", rec.Name, err)
	}
	return endpointView{Name: rec.Name, Version: rec.Version, Tags: rec.Tags, UpdatedAt: rec.UpdatedAt,
		UpdatedBy: rec.UpdatedBy, Source: rec.Source, Spec: spec}, nil
}

// specValue decodes a YAML spec into values encoding/json can encode.
func specValue(spec []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(spec, &v); err != nil {
		return nil, err
	}
	return jsonable(v), nil
}

// jsonable turns the map[any]any that YAML may produce into
// map[string]any, recursively.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	}
	return v
}

// sameEndpoint reports whether two records declare the same endpoint:
// equal tags and equal specs once both are decoded and re-encoded
// canonically (so key order and YAML style do not count).
func sameEndpoint(a, b endpoints.Record) bool {
	if !maps.Equal(a.Tags, b.Tags) {
		return false
	}
	ca, errA := canonical(a.Spec)
	cb, errB := canonical(b.Spec)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// canonical is the spec as JSON with sorted keys.
func canonical(spec []byte) ([]byte, error) {
	v, err := specValue(spec)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// etag is the ETag of an endpoint version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// precondition is a parsed If-Match header.
type precondition struct {
	set     bool  // the header was sent
	any     bool  // If-Match: *
	version int64 // the version named
}

// parseIfMatch reads If-Match: a version, as sent in ETag ("3") or bare
// (3), or *.
func parseIfMatch(r *http.Request) (precondition, error) {
	s := strings.TrimSpace(r.Header.Get("If-Match"))
	if s == "" {
		return precondition{}, nil
	}
	if s == "*" {
		return precondition{set: true, any: true}, nil
	}
	v := strings.Trim(strings.TrimPrefix(s, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return precondition{}, glassbox.Errorf(glassbox.EInvalid, "If-Match %q: want one endpoint version as given in ETag, e.g. \"3\"", truncate(s, 64))
	}
	return precondition{set: true, version: n}, nil
}

// wantsYAML reports whether the Accept header prefers YAML to JSON.
func wantsYAML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
			return true
		case "application/json", "*/*", "application/*":
			return false
		}
	}
	return false
}

// loadEndpoint returns the endpoint name if the caller may do act on it.
// A missing endpoint is 404 only for a caller who could act on an endpoint
// of that name; others get 403, so existence does not leak.
func (a *API) loadEndpoint(ctx context.Context, c *call, name string, act auth.Action) (endpoints.Record, error) {
	rec, err := a.store.Endpoint(ctx, name)
	if err != nil {
		if glassbox.ErrorCode(err) == glassbox.ENotFound && !a.allowed(c, act, endpoints.Record{Name: name}) {
			return endpoints.Record{}, a.forbidden(c, act, name)
		}
		return endpoints.Record{}, err
	}
	if err := a.require(c, act, rec); err != nil {
		return endpoints.Record{}, err
	}
	return rec, nil
}

// lookupEndpoint returns the stored endpoint and whether it exists.
func (a *API) lookupEndpoint(ctx context.Context, name string) (endpoints.Record, bool, error) {
	rec, err := a.store.Endpoint(ctx, name)
	switch {
	case err == nil:
		return rec, true, nil
	case glassbox.ErrorCode(err) == glassbox.ENotFound:
		return endpoints.Record{}, false, nil
	}
	return endpoints.Record{}, false, err
}

// prepare validates one declaration through the EndpointService.
func (a *API) prepare(spec []byte) (endpoints.Record, error) {
	rec, err := a.opts.Endpoints.Prepare(spec)
	if err != nil {
		return endpoints.Record{}, err
	}
	if rec.Name == "" {
		return endpoints.Record{}, fmt.Errorf("endpoint service prepared a record without a name")
	}
	return rec, nil
}

// prepareBody validates the declaration in the request body.
func (a *API) prepareBody(r *http.Request) (endpoints.Record, error) {
	if _, err := bodyFormat(r, true); err != nil {
		return endpoints.Record{}, err
	}
	b, err := readBody(r)
	if err != nil {
		return endpoints.Record{}, err
	}
	return a.prepare(b)
}

// put stores rec on behalf of the caller.
func (a *API) put(ctx context.Context, c *call, rec endpoints.Record, expect int64) (endpoints.Record, error) {
	rec.UpdatedAt = a.now().UTC()
	rec.UpdatedBy = c.principal.ID
	rec.Source = sourceAPI
	return a.store.PutEndpoint(ctx, rec, expect)
}

// reload makes the gateway serve the stored endpoints. Its failure leaves
// the change stored; the answer says so, the log says why.
func (a *API) reload(ctx context.Context, c *call) error {
	if err := a.opts.Endpoints.Reload(context.WithoutCancel(ctx)); err != nil {
		a.log.Error("reload gateway after an endpoint change", logRequestID, c.requestID, logErr, err)
		return glassbox.Errorf(glassbox.EUnavailable, "the change is stored, but the gateway could not load it (see the server log); it is served after the next successful reload")
	}
	return nil
}

// writeEndpoint answers one endpoint with its ETag.
func writeEndpoint(w http.ResponseWriter, status int, rec endpoints.Record) error {
	v, err := viewOf(rec)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(rec.Version))
	writeJSON(w, status, v)
	return nil
}

// listEndpoints serves GET /endpoints: the endpoints the caller may read,
// by name.
func (a *API) listEndpoints(c *call, w http.ResponseWriter, r *http.Request) error {
	pg, err := parsePage(r, "endpoints")
	if err != nil {
		return err
	}
	recs, err := a.store.ListEndpoints(r.Context())
	if err != nil {
		return err
	}
	out := list[endpointView]{Items: []endpointView{}}
	for _, rec := range recs {
		if pg.after != nil && rec.Name <= pg.after.Key || !a.allowed(c, auth.EndpointsRead, rec) {
			continue
		}
		if len(out.Items) == pg.limit {
			out.Next = cursor{Kind: "endpoints", Key: out.Items[len(out.Items)-1].Name}.encode()
			break
		}
		v, err := viewOf(rec)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getEndpoint serves GET /endpoints/{name}: JSON, or the bare declaration
// as YAML when Accept asks for it.
func (a *API) getEndpoint(c *call, w http.ResponseWriter, r *http.Request) error {
	rec, err := a.loadEndpoint(r.Context(), c, r.PathValue("name"), auth.EndpointsRead)
	if err != nil {
		return err
	}
	if wantsYAML(r) {
		w.Header().Set("ETag", etag(rec.Version))
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(rec.Spec)
		return nil
	}
	return writeEndpoint(w, http.StatusOK, rec)
}

// createEndpoint serves POST /endpoints: 201, or 409 when the endpoint
// exists.
func (a *API) createEndpoint(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rec, err := a.prepareBody(r)
	if err != nil {
		return err
	}
	c.resource = "endpoint/" + rec.Name
	if err := a.require(c, auth.EndpointsWrite, rec); err != nil {
		return err
	}
	// Check, then put: the store has no create-only write, so two
	// concurrent creates of one name may both succeed (the later wins).
	if _, exists, err := a.lookupEndpoint(ctx, rec.Name); err != nil {
		return err
	} else if exists {
		return glassbox.Errorf(glassbox.EConflict, "endpoint %s already exists; PUT %s/endpoints/%s replaces it", rec.Name, Prefix, rec.Name)
	}
	stored, err := a.put(ctx, c, rec, 0)
	if err != nil {
		return err
	}
	c.detail("version=%d", stored.Version)
	if err := a.reload(ctx, c); err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/endpoints/"+stored.Name)
	return writeEndpoint(w, http.StatusCreated, stored)
}

// putEndpoint serves PUT /endpoints/{name}: create (201) or replace (200),
// conditional on If-Match.
func (a *API) putEndpoint(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	pre, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	old, exists, err := a.lookupEndpoint(ctx, name)
	if err != nil {
		return err
	}
	if exists {
		// The caller must be allowed on the endpoint as it is and as it
		// will be, so re-tagging cannot move one into or out of reach.
		if err := a.require(c, auth.EndpointsWrite, old); err != nil {
			return err
		}
	}
	rec, err := a.prepareBody(r)
	if err != nil {
		return err
	}
	if rec.Name != name {
		return glassbox.Errorf(glassbox.EInvalid, "name: the declaration names endpoint %q but the URL names %q", rec.Name, name)
	}
	if err := a.require(c, auth.EndpointsWrite, rec); err != nil {
		return err
	}
	expect := pre.version
	if pre.set {
		if !exists {
			return glassbox.Errorf(glassbox.EConflict, "endpoint %s does not exist, but If-Match names a version of it", name)
		}
		if pre.any {
			expect = old.Version
		}
		c.detail("if_match=%d", expect)
	}
	stored, err := a.put(ctx, c, rec, expect)
	if err != nil {
		return err
	}
	c.detail("version=%d", stored.Version)
	if err := a.reload(ctx, c); err != nil {
		return err
	}
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
		w.Header().Set("Location", Prefix+"/endpoints/"+stored.Name)
	}
	return writeEndpoint(w, status, stored)
}

// deleteEndpoint serves DELETE /endpoints/{name}: 204. If-Match is checked
// against the current version just before deleting.
func (a *API) deleteEndpoint(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	pre, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	rec, err := a.loadEndpoint(ctx, c, r.PathValue("name"), auth.EndpointsWrite)
	if err != nil {
		return err
	}
	if pre.set && !pre.any && pre.version != rec.Version {
		return &glassbox.Error{Code: glassbox.EConflict, Message: fmt.Sprintf("endpoint %s is at version %d, not %d", rec.Name, rec.Version, pre.version), Err: endpoints.ErrVersionConflict}
	}
	if err := a.store.DeleteEndpoint(ctx, rec.Name); err != nil {
		return err
	}
	c.detail("version=%d", rec.Version)
	if err := a.reload(ctx, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyRequest is the body of POST /endpoints:apply.
type applyRequest struct {
	Endpoints []json.RawMessage `json:"endpoints"`
	Prune     bool              `json:"prune"`
	DryRun    bool              `json:"dry_run"`
}

// applyRequestYAML is applyRequest sent as YAML.
type applyRequestYAML struct {
	Endpoints []yaml.Node `yaml:"endpoints"`
	Prune     bool        `yaml:"prune"`
	DryRun    bool        `yaml:"dry_run"`
}

// ApplyResult is the answer of POST /endpoints:apply: endpoint names per
// kind of change, each sorted. With DryRun nothing was changed.
type ApplyResult struct {
	DryRun    bool     `json:"dry_run"`
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Unchanged []string `json:"unchanged"`
	Deleted   []string `json:"deleted"`
}

// decodeApply reads the apply request and returns each declaration's
// bytes.
func decodeApply(r *http.Request) (decls [][]byte, prune, dryRun bool, err error) {
	format, err := bodyFormat(r, true)
	if err != nil {
		return nil, false, false, err
	}
	b, err := readBody(r)
	if err != nil {
		return nil, false, false, err
	}
	if format == formatJSON {
		var req applyRequest
		if err := decodeJSON(b, &req); err != nil {
			return nil, false, false, err
		}
		for _, d := range req.Endpoints {
			decls = append(decls, d)
		}
		return decls, req.Prune, req.DryRun, nil
	}
	var req applyRequestYAML
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&req); err != nil {
		return nil, false, false, glassbox.Errorf(glassbox.EInvalid, "invalid YAML body: %v", err)
	}
	for i := range req.Endpoints {
		d, err := yaml.Marshal(&req.Endpoints[i])
		if err != nil {
			return nil, false, false, glassbox.Errorf(glassbox.EInvalid, "endpoints[%d]: %v", i, err)
		}
		decls = append(decls, d)
	}
	return decls, req.Prune, req.DryRun, nil
}

// applyEndpoints serves POST /endpoints:apply. It validates every
// declaration first (any problem: 400 listing all of them, nothing
// changed), checks that the caller may write every endpoint it declares,
// computes the diff against the store and, unless dry_run, applies it and
// reloads the gateway once.
//
// With prune, stored endpoints the request does not declare are deleted —
// only those the caller may write; the others are left alone and not
// mentioned, so a principal scoped to some endpoints prunes its own.
// Changes are applied one by one (the store has no multi-endpoint
// transaction); an update whose endpoint changed since the diff was
// computed fails with 409, and what was applied before it stays applied.
func (a *API) applyEndpoints(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	decls, prune, dryRun, err := decodeApply(r)
	if err != nil {
		return err
	}
	c.detail("dry_run=%t prune=%t", dryRun, prune)

	// 1. Validate everything.
	var problems []string
	recs := make([]endpoints.Record, 0, len(decls))
	declared := map[string]int{}
	for i, d := range decls {
		rec, err := a.prepare(d)
		if err != nil {
			if glassbox.ErrorCode(err) != glassbox.EInvalid {
				return err
			}
			problems = append(problems, fmt.Sprintf("endpoints[%d]: %s", i, glassbox.ErrorMessage(err)))
			continue
		}
		if j, dup := declared[rec.Name]; dup {
			problems = append(problems, fmt.Sprintf("endpoints[%d]: endpoint %s is already declared by endpoints[%d]", i, rec.Name, j))
			continue
		}
		declared[rec.Name] = i
		recs = append(recs, rec)
	}
	if len(problems) > 0 {
		return glassbox.Errorf(glassbox.EInvalid, "apply refused, nothing changed: %d problem(s):\n%s", len(problems), strings.Join(problems, "\n"))
	}

	// 2. Authorize and diff against the store.
	stored, err := a.store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	byName := make(map[string]endpoints.Record, len(stored))
	for _, s := range stored {
		byName[s.Name] = s
	}
	var denied []string
	for _, rec := range recs {
		old, exists := byName[rec.Name]
		if !a.allowed(c, auth.EndpointsWrite, rec) || exists && !a.allowed(c, auth.EndpointsWrite, old) {
			denied = append(denied, rec.Name)
		}
	}
	if len(denied) > 0 {
		return glassbox.Errorf(glassbox.EForbidden, "%s (roles %s) may not %s on endpoint(s) %s; nothing changed",
			c.principal.ID, strings.Join(c.principal.Roles, ", "), auth.EndpointsWrite, strings.Join(denied, ", "))
	}
	res := ApplyResult{DryRun: dryRun, Created: []string{}, Updated: []string{}, Unchanged: []string{}, Deleted: []string{}}
	var creates, updates []endpoints.Record
	for _, rec := range recs {
		old, exists := byName[rec.Name]
		switch {
		case !exists:
			res.Created = append(res.Created, rec.Name)
			creates = append(creates, rec)
		case sameEndpoint(old, rec):
			res.Unchanged = append(res.Unchanged, rec.Name)
		default:
			res.Updated = append(res.Updated, rec.Name)
			rec.Version = old.Version // the version the update expects
			updates = append(updates, rec)
		}
	}
	if prune {
		for _, s := range stored {
			if _, ok := declared[s.Name]; !ok && a.allowed(c, auth.EndpointsWrite, s) {
				res.Deleted = append(res.Deleted, s.Name)
			}
		}
	}
	for _, l := range [][]string{res.Created, res.Updated, res.Unchanged, res.Deleted} {
		slices.Sort(l)
	}
	c.detail("created=%s updated=%s deleted=%s", strings.Join(res.Created, ","), strings.Join(res.Updated, ","), strings.Join(res.Deleted, ","))
	if dryRun {
		writeJSON(w, http.StatusOK, res)
		return nil
	}

	// 3. Apply, then reload once (also after a partial failure).
	total := len(creates) + len(updates) + len(res.Deleted)
	applied := 0
	var applyErr error
	step := func(name string, err error) bool {
		if err != nil {
			applyErr = applyStopped(err, name, applied, total)
			return false
		}
		applied++
		return true
	}
	func() {
		for _, rec := range creates {
			_, err := a.put(ctx, c, rec, 0)
			if !step(rec.Name, err) {
				return
			}
		}
		for _, rec := range updates {
			_, err := a.put(ctx, c, rec, rec.Version)
			if !step(rec.Name, err) {
				return
			}
		}
		for _, name := range res.Deleted {
			err := a.store.DeleteEndpoint(ctx, name)
			if glassbox.ErrorCode(err) == glassbox.ENotFound {
				err = nil // deleted meanwhile: the goal is reached
			}
			if !step(name, err) {
				return
			}
		}
	}()
	if applied > 0 {
		if err := a.reload(ctx, c); err != nil && applyErr == nil {
			return err
		}
	}
	if applyErr != nil {
		return applyErr
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// applyStopped describes a failure part-way through an apply. Internal
// errors stay internal (answered "internal error", logged in full).
func applyStopped(err error, name string, applied, total int) error {
	code, msg := classify(err)
	if code == glassbox.EInternal {
		return fmt.Errorf("apply endpoint %s after %d of %d changes: %w", name, applied, total, err)
	}
	return &glassbox.Error{Code: code, Message: fmt.Sprintf("apply stopped at endpoint %s after %d of %d changes (those stay applied): %s", name, applied, total, msg)}
}
