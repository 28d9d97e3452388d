package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

const testAdminToken = "gbx_abcdefgh_abcdefghijklmnopqrstuvwxyz234567"

// cpServer is a Glassbox server started in-process for control-plane tests.
type cpServer struct {
	URL string
}

func startServer(t *testing.T, yaml string) *cpServer {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	addr, stop := serveInProcess(t, cfg, io.Discard)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &cpServer{URL: "http://" + addr}
}

// cli runs the glassbox command with the given args against s.
func cli(t *testing.T, s *cpServer, token string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	full := append(args, "--server", s.URL, "--token", token)
	code := run(full, &out, &errb)
	return out.String() + errb.String(), code
}

func apiGet(t *testing.T, s *cpServer, token, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func cpConfig(dir, metadata, upstream string) string {
	meta := ""
	if metadata != "" {
		meta = "  metadata: " + metadata + "\n"
	}
	return fmt.Sprintf(`server: {listen: 127.0.0.1:0}
storage:
  blob: file://%s/data
  spool: %s/spool
%slog: {level: error}
policies:
  required_tags: [owner]
  min_sampling_percent: {default: 10, audit-critical: 100}
endpoints:
  - name: churn
    tags: {owner: risk}
    variants: [{name: AllTraffic, upstream: %q}]
    capture: {max_object_seconds: 1}
`, dir, dir, meta, upstream)
}

// TestControlPlane_EndToEnd drives the control plane through the CLI and
// the API of a running server: tokens, apply (live, validated, policy
// refusals), the capture index, and the audit log with tamper detection.
func TestControlPlane_EndToEnd(t *testing.T) {
	t.Setenv(BootstrapTokenEnv, testAdminToken)
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	s := startServer(t, cpConfig(dir, "", m.URL))

	// A personal token for an ml-engineer.
	out, code := cli(t, s, testAdminToken, "token", "create", "--name", "alice", "--role", "ml-engineer")
	if code != 0 {
		t.Fatalf("token create: %s", out)
	}
	alice := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "gbx_") {
			alice = f
		}
	}
	if alice == "" {
		t.Fatalf("token create printed no secret: %s", out)
	}

	// apply: a new endpoint goes live without a restart.
	file := filepath.Join(dir, "apply.yaml")
	decl := fmt.Sprintf("endpoints:\n  - name: recs\n    tags: {owner: growth}\n    variants: [{name: A, upstream: %q}]\n    capture: {sampling_percent: 50}\n", m.URL)
	if err := os.WriteFile(file, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = cli(t, s, alice, "apply", "-f", file, "--dry-run")
	if code != 0 || !strings.Contains(out, "+ recs") {
		t.Fatalf("apply --dry-run: %d %s", code, out)
	}
	if resp, _ := post(t, s.URL+"/endpoints/recs/invocations", "text/csv", []byte("1"), nil); resp.StatusCode != 404 {
		t.Fatalf("dry run changed the gateway: recs answers %d", resp.StatusCode)
	}
	out, code = cli(t, s, alice, "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "+ recs") {
		t.Fatalf("apply: %d %s", code, out)
	}
	if resp, _ := post(t, s.URL+"/endpoints/recs/invocations", "text/csv", []byte("1"), nil); resp.StatusCode != 200 {
		t.Fatalf("applied endpoint answers %d, want 200 without a restart", resp.StatusCode)
	}

	// A change that breaks a policy is refused, naming the rule; the old
	// endpoint keeps serving.
	bad := strings.Replace(decl, "tags: {owner: growth}", "tags: {owner: growth, tier: audit-critical}", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = cli(t, s, alice, "apply", "-f", file)
	if code == 0 || !strings.Contains(out, "min_sampling_percent.audit-critical") {
		t.Fatalf("apply of a policy-breaking change: %d %s, want a refusal naming the rule", code, out)
	}
	if resp, _ := post(t, s.URL+"/endpoints/recs/invocations", "text/csv", []byte("1"), nil); resp.StatusCode != 200 {
		t.Fatalf("after a refused change recs answers %d, want 200", resp.StatusCode)
	}

	// Capture index: the record of an invocation is found by event id
	// through the API once its segment is uploaded (max_object_seconds: 1).
	resp, _ := post(t, s.URL+"/endpoints/churn/invocations", "text/csv", []byte("7,8,9"), map[string]string{"X-Amzn-SageMaker-Inference-Id": "order-77"})
	id := resp.Header.Get("X-Glassbox-Event-Id")
	var entry map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for apiGet(t, s, alice, "/api/v1/captures/"+id+"?payload=true", &entry) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("capture %s never appeared in the index", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(fmt.Sprint(entry), "7,8,9") || !strings.Contains(fmt.Sprint(entry), "order-77") {
		t.Errorf("GET /api/v1/captures/%s?payload=true = %v, want the record with its payload", id, entry)
	}

	// The audit log holds these actions and verifies.
	out, code = cli(t, s, testAdminToken, "audit-log", "verify")
	if code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit-log verify: %d %s", code, out)
	}
	var events map[string]any
	apiGet(t, s, testAdminToken, "/api/v1/audit-log?action=endpoints.apply", &events)
	if !strings.Contains(fmt.Sprint(events), "endpoints.apply") {
		t.Errorf("audit log lacks the apply: %v", events)
	}
	// Tampering with a row is detected.
	db, err := sql.Open("sqlite", filepath.Join(dir, "glassbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_events SET actor = 'token:someone' WHERE seq = 2`); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	out, code = cli(t, s, testAdminToken, "audit-log", "verify")
	if code == 0 || !strings.Contains(out, "event 2") {
		t.Fatalf("audit-log verify after tampering: %d %s, want a failure naming event 2", code, out)
	}
}

// TestControlPlane_TwoServersSharePostgres runs two servers on one
// PostgreSQL database: each sees the other's endpoint, token and audit
// changes.
func TestControlPlane_TwoServersSharePostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	t.Setenv(BootstrapTokenEnv, testAdminToken)
	m := startTestModel(t, echoModel("text/csv"))
	a := startServer(t, cpConfig(t.TempDir(), dsn, m.URL))
	b := startServer(t, cpConfig(t.TempDir(), dsn, m.URL))

	// A token created on A works on B.
	out, code := cli(t, a, testAdminToken, "token", "create", "--name", "bob", "--role", "viewer")
	if code != 0 {
		t.Fatalf("token create on A: %s", out)
	}
	bob := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "gbx_") {
			bob = f
		}
	}
	var who map[string]any
	if st := apiGet(t, b, bob, "/api/v1/whoami", &who); st != 200 {
		t.Fatalf("token made on A: whoami on B = %d", st)
	}

	// An endpoint created through A serves on B after B's poll.
	file := filepath.Join(t.TempDir(), "e.yaml")
	_ = os.WriteFile(file, []byte(fmt.Sprintf("endpoints:\n  - name: shared\n    tags: {owner: x}\n    variants: [{name: A, upstream: %q}]\n", m.URL)), 0o600)
	if out, code := cli(t, a, testAdminToken, "apply", "-f", file); code != 0 {
		t.Fatalf("apply on A: %s", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := post(t, b.URL+"/endpoints/shared/invocations", "text/csv", []byte("1"), nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint created on A never served on B (last %d)", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Both servers append to one audit chain; B sees A's actions.
	var events struct {
		Items []map[string]any `json:"items"`
	}
	apiGet(t, b, testAdminToken, "/api/v1/audit-log?action=tokens.create", &events)
	if len(events.Items) == 0 {
		t.Errorf("B's audit log lacks the token created on A")
	}
	if out, code := cli(t, b, testAdminToken, "audit-log", "verify"); code != 0 {
		t.Errorf("audit-log verify on B: %s", out)
	}
}

// TestDataPlaneAuth checks an endpoint with auth: token: no token 401, a
// token without endpoints:invoke 403, an invoker token 200, and the token
// never reaches the model.
func TestDataPlaneAuth(t *testing.T) {
	t.Setenv(BootstrapTokenEnv, testAdminToken)
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	yaml := strings.Replace(cpConfig(dir, "", m.URL), "    capture: {max_object_seconds: 1}\n", "    auth: token\n    capture: {max_object_seconds: 1}\n", 1)
	s := startServer(t, yaml)
	mk := func(role string) string {
		out, code := cli(t, s, testAdminToken, "token", "create", "--name", role, "--role", role)
		if code != 0 {
			t.Fatalf("token create %s: %s", role, out)
		}
		for _, f := range strings.Fields(out) {
			if strings.HasPrefix(f, "gbx_") {
				return f
			}
		}
		t.Fatalf("no secret in %s", out)
		return ""
	}
	invoker, viewer := mk("invoker"), mk("viewer")
	for _, tt := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no token", nil, 401},
		{"malformed token", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"viewer", map[string]string{"Authorization": "Bearer " + viewer}, 403},
		{"invoker", map[string]string{"Authorization": "Bearer " + invoker}, 200},
	} {
		resp, body := post(t, s.URL+"/endpoints/churn/invocations", "text/csv", []byte("1,2"), tt.header)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.StatusCode, tt.want, body)
		}
		if tt.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tt.name)
		}
	}
	if got := m.LastRequest().Header.Get("Authorization"); got != "" {
		t.Errorf("the model received Authorization %q", got)
	}
}
