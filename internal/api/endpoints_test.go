package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox"
)

// endpointJSON is the API's endpoint shape, as a client reads it.
type endpointJSON struct {
	Name      string
	Version   int64
	Tags      map[string]string
	UpdatedBy string `json:"updated_by"`
	Source    string
	Spec      map[string]any
}

func TestEndpoints_CRUD(t *testing.T) {
	e := newEnv(t, nil)
	mle := e.token("ml-engineer")

	// Create from YAML.
	yml := "name: churn\ntags: {team: x}\nvariants:\n  - name: primary\n    upstream: http://127.0.0.1:9000\n"
	r := e.do(req{method: "POST", path: "/api/v1/endpoints", token: mle, body: yml, header: map[string]string{"Content-Type": "application/yaml"}})
	want(t, r, http.StatusCreated)
	var ep endpointJSON
	r.json(t, &ep)
	if ep.Name != "churn" || ep.Version != 1 || ep.Tags["team"] != "x" || ep.Source != "api" || ep.UpdatedBy != actor(t, mle) {
		t.Fatalf("created %+v", ep)
	}
	if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/api/v1/endpoints/churn" {
		t.Fatalf("ETag %q Location %q", r.header.Get("ETag"), r.header.Get("Location"))
	}
	if vs, _ := ep.Spec["variants"].([]any); len(vs) != 1 {
		t.Fatalf("spec %v", ep.Spec)
	}
	if got := e.svc.reloads.Load(); got != 1 {
		t.Errorf("%d reloads after create, want 1", got)
	}

	// Creating again conflicts.
	wantError(t, e.do(req{method: "POST", path: "/api/v1/endpoints", token: mle, body: decl("churn", nil)}), http.StatusConflict, "already exists")

	// Read back, as JSON and as YAML.
	r = e.get(mle, "/api/v1/endpoints/churn")
	want(t, r, http.StatusOK)
	r = e.do(req{method: "GET", path: "/api/v1/endpoints/churn", token: mle, header: map[string]string{"Accept": "application/yaml"}})
	want(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" || !strings.Contains(string(r.body), "upstream: http://127.0.0.1:9000") {
		t.Fatalf("YAML answer %q: %s", ct, r.body)
	}

	// Conditional replace: the current version wins, a stale one is 409.
	upd := decl("churn", map[string]string{"team": "x", "tier": "gold"})
	r = e.do(req{method: "PUT", path: "/api/v1/endpoints/churn", token: mle, body: upd, header: map[string]string{"If-Match": `"1"`}})
	want(t, r, http.StatusOK)
	r.json(t, &ep)
	if ep.Version != 2 || ep.Tags["tier"] != "gold" || r.header.Get("ETag") != `"2"` {
		t.Fatalf("updated %+v, ETag %s", ep, r.header.Get("ETag"))
	}
	wantError(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/churn", token: mle, body: upd, header: map[string]string{"If-Match": "1"}}),
		http.StatusConflict, "no longer at version 1")
	wantError(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/churn", token: mle, body: upd, header: map[string]string{"If-Match": "soon"}}),
		http.StatusBadRequest, "If-Match")
	// The URL and the declaration must name the same endpoint.
	wantError(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/churn", token: mle, body: decl("other", nil)}), http.StatusBadRequest, "URL names")
	// PUT creates.
	want(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/fraud", token: mle, body: decl("fraud", nil)}), http.StatusCreated)
	wantError(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/ghost", token: mle, body: decl("ghost", nil), header: map[string]string{"If-Match": `"3"`}}),
		http.StatusConflict, "does not exist")

	// Invalid declarations: 400 naming the field path, nothing stored.
	bad := decl("broken", nil)
	bad["variants"] = []any{map[string]any{"name": "primary", "upstream": "ftp://nowhere"}}
	wantError(t, e.do(req{method: "POST", path: "/api/v1/endpoints", token: mle, body: bad}), http.StatusBadRequest, "variants[0].upstream")
	bad = decl("broken", nil)
	bad["capture"] = map[string]any{"sampling_percent": 250}
	wantError(t, e.do(req{method: "POST", path: "/api/v1/endpoints", token: mle, body: bad}), http.StatusBadRequest, "capture.sampling_percent")
	bad = decl("broken", nil)
	bad["colour"] = "blue"
	wantError(t, e.do(req{method: "POST", path: "/api/v1/endpoints", token: mle, body: bad}), http.StatusBadRequest, "colour")
	wantError(t, e.do(req{method: "POST", path: "/api/v1/endpoints", token: mle, body: "name: x", header: map[string]string{"Content-Type": "text/plain"}}),
		http.StatusBadRequest, "Content-Type")
	if _, err := e.db.Endpoint(context.Background(), "broken"); glassbox.ErrorCode(err) != glassbox.ENotFound {
		t.Fatalf("invalid endpoint stored: %v", err)
	}

	// List.
	var lst struct{ Items []endpointJSON }
	e.get(mle, "/api/v1/endpoints").json(t, &lst)
	if len(lst.Items) != 2 || lst.Items[0].Name != "churn" || lst.Items[1].Name != "fraud" {
		t.Fatalf("list %+v", lst)
	}

	// Delete, with a stale If-Match refused.
	wantError(t, e.do(req{method: "DELETE", path: "/api/v1/endpoints/churn", token: mle, header: map[string]string{"If-Match": `"1"`}}), http.StatusConflict, "version 2")
	want(t, e.do(req{method: "DELETE", path: "/api/v1/endpoints/churn", token: mle, header: map[string]string{"If-Match": `"2"`}}), http.StatusNoContent)
	wantError(t, e.get(mle, "/api/v1/endpoints/churn"), http.StatusNotFound, "not found")
	wantError(t, e.do(req{method: "DELETE", path: "/api/v1/endpoints/churn", token: mle}), http.StatusNotFound, "")
}

func TestEndpoints_TagScopedWriter(t *testing.T) {
	e := newEnv(t, nil)
	e.seedEndpoint("mine", map[string]string{"team": "x"})
	e.seedEndpoint("theirs", map[string]string{"team": "y"})
	tx := e.token("team-x")

	var lst struct{ Items []endpointJSON }
	e.get(tx, "/api/v1/endpoints").json(t, &lst)
	if len(lst.Items) != 1 || lst.Items[0].Name != "mine" {
		t.Fatalf("team-x sees %+v", lst.Items)
	}
	wantError(t, e.get(tx, "/api/v1/endpoints/theirs"), http.StatusForbidden, "endpoints:read on endpoint theirs")
	// A missing endpoint is 403, not 404, for a caller who could not read
	// it anyway: existence does not leak.
	want(t, e.get(tx, "/api/v1/endpoints/nothing-here"), http.StatusForbidden)
	// Re-tagging moves an endpoint neither out of nor into reach.
	want(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/mine", token: tx, body: decl("mine", map[string]string{"team": "y"})}), http.StatusForbidden)
	want(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/theirs", token: tx, body: decl("theirs", map[string]string{"team": "x"})}), http.StatusForbidden)
	want(t, e.do(req{method: "PUT", path: "/api/v1/endpoints/mine", token: tx, body: decl("mine", map[string]string{"team": "x", "v": "2"})}), http.StatusOK)
	// Prune only deletes what the caller may write.
	r := e.do(req{method: "POST", path: "/api/v1/endpoints:apply", token: tx, body: map[string]any{"endpoints": []any{}, "prune": true}})
	want(t, r, http.StatusOK)
	var d applyDiff
	r.json(t, &d)
	if strings.Join(d.Deleted, ",") != "mine" {
		t.Fatalf("team-x pruned %v", d.Deleted)
	}
	if _, err := e.db.Endpoint(context.Background(), "theirs"); err != nil {
		t.Fatalf("theirs pruned by team-x: %v", err)
	}
}

// applyDiff is the answer of POST /endpoints:apply.
type applyDiff struct {
	DryRun    bool `json:"dry_run"`
	Created   []string
	Updated   []string
	Unchanged []string
	Deleted   []string
}

func TestEndpoints_Apply(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.seedEndpoint("keep", nil)
	e.seedEndpoint("change", nil)
	e.seedEndpoint("drop", nil)
	changed := decl("change", map[string]string{"tier": "gold"})
	body := map[string]any{"endpoints": []any{decl("keep", nil), changed, decl("add", nil)}, "prune": true, "dry_run": true}
	wantDiff := func(t *testing.T, d applyDiff, dry bool) {
		t.Helper()
		if d.DryRun != dry || strings.Join(d.Created, ",") != "add" || strings.Join(d.Updated, ",") != "change" ||
			strings.Join(d.Unchanged, ",") != "keep" || strings.Join(d.Deleted, ",") != "drop" {
			t.Fatalf("diff %+v", d)
		}
	}

	// Dry run: the diff, nothing changed, no reload.
	r := e.do(req{method: "POST", path: "/api/v1/endpoints:apply", token: e.admin, body: body})
	want(t, r, http.StatusOK)
	var d applyDiff
	r.json(t, &d)
	wantDiff(t, d, true)
	if _, err := e.db.Endpoint(ctx, "drop"); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}
	if _, err := e.db.Endpoint(ctx, "add"); err == nil {
		t.Fatal("dry run created")
	}
	if n := e.svc.reloads.Load(); n != 0 {
		t.Fatalf("%d reloads after a dry run", n)
	}

	// Any invalid declaration refuses the whole apply, listing every
	// problem.
	bad1 := decl("bad-one", nil)
	bad1["variants"] = []any{}
	bad2 := decl("bad-two", nil)
	bad2["timeout"] = "soon"
	r = e.do(req{method: "POST", path: "/api/v1/endpoints:apply", token: e.admin,
		body: map[string]any{"endpoints": []any{decl("add", nil), bad1, bad2, decl("add", nil)}, "prune": true}})
	wantError(t, r, http.StatusBadRequest, "endpoints[1]")
	_, msg, _ := r.errBody(t)
	for _, s := range []string{"endpoints[2]", "timeout", "endpoints[3]: endpoint add is already declared by endpoints[0]", "nothing changed"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
	if _, err := e.db.Endpoint(ctx, "drop"); err != nil {
		t.Fatalf("refused apply changed the store: %v", err)
	}

	// For real, as YAML.
	yml := `
prune: true
endpoints:
  - name: keep
    variants: [{name: primary, upstream: "http://127.0.0.1:9000"}]
  - name: change
    tags: {tier: gold}
    variants: [{name: primary, upstream: "http://127.0.0.1:9000"}]
  - name: add
    variants: [{name: primary, upstream: "http://127.0.0.1:9000"}]
`
	r = e.do(req{method: "POST", path: "/api/v1/endpoints:apply", token: e.admin, body: yml, header: map[string]string{"Content-Type": "application/yaml"}})
	want(t, r, http.StatusOK)
	r.json(t, &d)
	wantDiff(t, d, false)
	if _, err := e.db.Endpoint(ctx, "drop"); glassbox.ErrorCode(err) != glassbox.ENotFound {
		t.Fatalf("drop not pruned: %v", err)
	}
	if rec, err := e.db.Endpoint(ctx, "change"); err != nil || rec.Version != 2 || rec.Tags["tier"] != "gold" {
		t.Fatalf("change: %+v %v", rec, err)
	}
	if rec, err := e.db.Endpoint(ctx, "keep"); err != nil || rec.Version != 1 {
		t.Fatalf("keep rewritten: %+v %v", rec, err)
	}
	if n := e.svc.reloads.Load(); n != 1 {
		t.Fatalf("%d reloads after one apply, want 1", n)
	}

	// Applying the same again changes nothing and does not reload.
	body["dry_run"] = false
	r = e.do(req{method: "POST", path: "/api/v1/endpoints:apply", token: e.admin, body: body})
	want(t, r, http.StatusOK)
	r.json(t, &d)
	if len(d.Created)+len(d.Updated)+len(d.Deleted) != 0 || len(d.Unchanged) != 3 {
		t.Fatalf("second apply %+v", d)
	}
	if n := e.svc.reloads.Load(); n != 1 {
		t.Fatalf("%d reloads after a no-op apply", n)
	}

	// The apply is audited with its diff.
	ev := e.auditFor(r.header.Get("X-Request-Id"))
	if ev.Action != "endpoints.apply" || ev.Result != "ok" || !strings.Contains(ev.Details, "prune=true") {
		t.Fatalf("audit %+v", ev)
	}
}

func TestEndpoints_ReloadFailure(t *testing.T) {
	e := newEnv(t, nil)
	boom := errors.New("gateway rejects upstream")
	e.svc.reloadErr.Store(&boom)
	r := e.do(req{method: "POST", path: "/api/v1/endpoints", token: e.admin, body: decl("churn", nil)})
	wantError(t, r, http.StatusServiceUnavailable, "the change is stored")
	if strings.Contains(string(r.body), "rejects upstream") {
		t.Fatalf("internal reload error leaked: %s", r.body)
	}
	if _, err := e.db.Endpoint(context.Background(), "churn"); err != nil {
		t.Fatal(err)
	}
}
