package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/store"
)

// endpointService validates declarations the way cmd/glassbox does
// (schema via config.ParseEndpoint, normalized YAML) and counts reloads.
type endpointService struct {
	reloads   atomic.Int64
	reloadErr atomic.Pointer[error]
}

func (s *endpointService) Prepare(spec []byte) (endpoints.Record, error) {
	e, err := config.ParseEndpoint(spec, config.Policies{RequiredTags: nil})
	if err != nil {
		return endpoints.Record{}, &glassbox.Error{Code: glassbox.EInvalid, Message: "invalid endpoint: " + err.Error()}
	}
	b, err := config.MarshalEndpoint(e)
	if err != nil {
		return endpoints.Record{}, err
	}
	return endpoints.Record{Name: e.Name, Spec: b, Tags: e.Tags}, nil
}

func (s *endpointService) Reload(context.Context) error {
	s.reloads.Add(1)
	if p := s.reloadErr.Load(); p != nil {
		return *p
	}
	return nil
}

// captureReader builds a record from the entry; it panics for event ids
// starting with "panic" (to test recovery).
type captureReader struct{}

func (captureReader) Read(_ context.Context, e capture.IndexEntry) (*capture.Record, error) {
	if strings.HasPrefix(e.EventID, "panic") {
		panic("reader exploded")
	}
	return &capture.Record{
		CaptureData: capture.CaptureData{EndpointInput: &capture.Payload{
			ObservedContentType: "text/csv", Mode: capture.ModeInput, Data: "SECRET-PAYLOAD,1,2", Encoding: capture.EncodingCSV}},
		EventMetadata: capture.EventMetadata{EventID: e.EventID, InferenceID: e.InferenceID, InferenceTime: e.Time.UTC().Format(capture.InferenceTimeLayout)},
		EventVersion:  capture.EventVersion,
	}, nil
}

// customRoles are the custom roles of every test API.
func customRoles() []auth.Role {
	return []auth.Role{
		{Name: "other-endpoint", Description: "everything, on endpoint other only",
			Grants: []auth.Grant{{Actions: auth.AllActions, Endpoints: auth.Selector{Names: []string{"other"}}}}},
		{Name: "token-manager", Description: "manage tokens; read churn-* endpoints",
			Grants: []auth.Grant{
				{Actions: []auth.Action{auth.TokensRead, auth.TokensWrite}},
				{Actions: []auth.Action{auth.EndpointsRead}, Endpoints: auth.Selector{Names: []string{"churn-*"}}},
			}},
		{Name: "churn-a-reader", Description: "read endpoint churn-a",
			Grants: []auth.Grant{{Actions: []auth.Action{auth.EndpointsRead}, Endpoints: auth.Selector{Names: []string{"churn-a"}}}}},
		{Name: "team-x", Description: "write endpoints tagged team=x",
			Grants: []auth.Grant{{Actions: []auth.Action{auth.EndpointsRead, auth.EndpointsWrite, auth.CapturesReadMetadata}, Endpoints: auth.Selector{Tags: map[string]string{"team": "x"}}}}},
	}
}

// env is a running API over a real SQLite metadata store.
type env struct {
	t      *testing.T
	db     *store.DB
	dbPath string
	api    *api.API
	srv    *httptest.Server
	svc    *endpointService
	admin  string // an admin token
}

// newEnv starts an API; mod adjusts its options (rate limits are off
// unless mod sets them).
func newEnv(t *testing.T, mod func(*api.Options)) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := store.Open(ctx, "sqlite://"+path, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	authz, err := auth.NewAuthorizer(customRoles())
	if err != nil {
		t.Fatal(err)
	}
	svc := &endpointService{}
	// A real scheduler over the store runs manual monitoring runs of
	// churn/hourly; its runs complete at once.
	sched := monitor.NewScheduler(monitor.SchedulerOptions{Store: db, Owner: "api-test",
		Run: func(context.Context, monitor.Job) monitor.Outcome {
			return monitor.Outcome{Status: monitor.ExecutionCompleted, ReportURI: "file:///reports/churn"}
		}})
	if err := sched.Apply([]monitor.ScheduleSpec{{Endpoint: "churn", Name: "hourly", Expr: "@hourly"}}); err != nil {
		t.Fatal(err)
	}
	opts := api.Options{Store: db, Endpoints: svc, Captures: captureReader{}, Authorizer: authz,
		RateLimit: 1e6, RateBurst: 1e6, Monitor: sched, Compliance: complianceReporter{}, Cost: costReporter{}}
	if mod != nil {
		mod(&opts)
	}
	a, err := api.New(opts)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, dbPath: path, api: a, srv: srv, svc: svc}
	e.admin = e.token("admin")
	return e
}

// token stores a token with roles and returns its secret.
func (e *env) token(roles ...string) string {
	e.t.Helper()
	plain, _ := e.tokenWith(time.Hour, roles...)
	return plain
}

// tokenWith stores a token with a ttl (0: none; < 0: expired) and
// returns its secret and record.
func (e *env) tokenWith(ttl time.Duration, roles ...string) (string, auth.Token) {
	e.t.Helper()
	plain, tok := auth.NewToken("test "+strings.Join(roles, "+"), roles, "test", time.Now(), 0)
	if ttl != 0 { // negative: already expired
		exp := time.Now().Add(ttl)
		tok.ExpiresAt = &exp
	}
	if err := e.db.CreateToken(context.Background(), tok); err != nil {
		e.t.Fatalf("create token: %v", err)
	}
	return plain, tok
}

// seedEndpoint stores an endpoint directly.
func (e *env) seedEndpoint(name string, tags map[string]string) endpoints.Record {
	e.t.Helper()
	b, _ := json.Marshal(decl(name, tags))
	rec, err := e.svc.Prepare(b)
	if err != nil {
		e.t.Fatalf("prepare %s: %v", name, err)
	}
	rec.Source, rec.UpdatedBy = "config", "test"
	rec, err = e.db.PutEndpoint(context.Background(), rec, 0)
	if err != nil {
		e.t.Fatalf("put %s: %v", name, err)
	}
	return rec
}

// decl is a minimal valid endpoint declaration.
func decl(name string, tags map[string]string) map[string]any {
	d := map[string]any{
		"name":     name,
		"variants": []any{map[string]any{"name": "primary", "upstream": "http://127.0.0.1:9000"}},
	}
	if tags != nil {
		d["tags"] = tags
	}
	return d
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v.
func (r *response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errBody decodes an error answer.
func (r *response) errBody(t *testing.T) (code, msg, rid string) {
	t.Helper()
	var b struct {
		Error struct {
			Code, Message string
			RequestID     string `json:"request_id"`
		}
	}
	r.json(t, &b)
	return b.Error.Code, b.Error.Message, b.Error.RequestID
}

// req is a request to send.
type req struct {
	method, path, token string
	body                any // []byte/string sent as is, else JSON
	header              map[string]string
}

// do sends rq and reads the answer.
func (e *env) do(rq req) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := rq.body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(rq.method, e.srv.URL+rq.path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rq.token != "" {
		hr.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if rq.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

// get is a GET as tok.
func (e *env) get(tok, path string) *response {
	e.t.Helper()
	return e.do(req{method: http.MethodGet, path: path, token: tok})
}

// want fails unless r has status.
func want(t *testing.T, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// wantError fails unless r is a JSON error with status whose message
// contains substr.
func wantError(t *testing.T, r *response, status int, substr string) {
	t.Helper()
	want(t, r, status)
	_, msg, rid := r.errBody(t)
	if !strings.Contains(msg, substr) {
		t.Fatalf("error message %q lacks %q", msg, substr)
	}
	if rid == "" || rid != r.header.Get(api.HeaderRequestID) {
		t.Fatalf("error request id %q, header %q", rid, r.header.Get(api.HeaderRequestID))
	}
}

// auditEvents returns every audit event.
func (e *env) auditEvents() []audit.Event {
	e.t.Helper()
	var out []audit.Event
	if err := e.db.EachAudit(context.Background(), func(ev audit.Event) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// auditFor returns the audit event of a request id, waiting briefly for
// it (an answer may reach the client just before its event is appended).
func (e *env) auditFor(rid string) audit.Event {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, ev := range e.auditEvents() {
			if ev.RequestID == rid {
				return ev
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no audit event for request %s", rid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tokenID is the id part of a token secret.
func tokenID(t *testing.T, plain string) string {
	t.Helper()
	id, err := auth.ParseTokenID(plain)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// actor is the audit actor of a token secret.
func actor(t *testing.T, plain string) string { return fmt.Sprintf("token:%s", tokenID(t, plain)) }
