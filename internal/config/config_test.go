package config_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/config"
)

// examplePath is the commented example config shipped with Glassbox.
const examplePath = "../../etc/glassbox.yaml"

func ptr[T any](v T) *T { return &v }

// mustParse parses data and fails the test on error.
func mustParse(tb testing.TB, data string) *config.Config {
	tb.Helper()
	cfg, err := config.Parse([]byte(data))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return cfg
}

// mustReadFile returns the contents of a file and fails the test on error.
func mustReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// glob returns the files matching pattern and fails the test if none do.
func glob(tb testing.TB, pattern string) []string {
	tb.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		tb.Fatalf("glob %s: %v files, err %v", pattern, len(files), err)
	}
	return files
}

// unsetenv unsets an environment variable for the duration of the test.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // registers restoring the original value
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

func TestParse_goodFiles(t *testing.T) {
	for _, path := range append(glob(t, "testdata/*.good.yaml"), examplePath) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, err := config.Parse(mustReadFile(t, path))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestParse_badFiles(t *testing.T) {
	unsetenv(t, "GLASSBOX_TEST_UNSET_UPSTREAM")
	for _, path := range glob(t, "testdata/*.bad.yaml") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data := mustReadFile(t, path)
			first, _, _ := bytes.Cut(data, []byte("\n"))
			want, ok := strings.CutPrefix(string(first), "# error: ")
			if !ok || want == "" {
				t.Fatalf("first line must be \"# error: <substring>\", got %q", first)
			}
			cfg, err := config.Parse(data)
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error containing %q", cfg, want)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config along with error %v", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Parse error:\n%v\nwant it to contain:\n%s", err, want)
			}
		})
	}
}

func TestParse_oidc(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/oidc.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.OIDC{
		Issuer:       "https://login.example.com/realms/ml",
		Audience:     "glassbox",
		RolesClaim:   "realm_access.roles",
		RoleMap:      map[string][]string{"ml-team": {"ml-engineer"}, "readers": {"reader", "viewer"}},
		SubjectClaim: "sub",
	}
	if diff := cmp.Diff(want, cfg.OIDC); diff != "" {
		t.Errorf("Parse(oidc.good.yaml).OIDC mismatch (-want +got):\n%s", diff)
	}
	if !cfg.OIDC.Enabled() || config.Default().OIDC.Enabled() {
		t.Error("Enabled: want true with an issuer, false by default")
	}
}

func TestParse_defaults(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/issue.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Config{
		Server: config.Server{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: config.Duration(10 * time.Second),
			IdleTimeout:       config.Duration(120 * time.Second),
			ShutdownTimeout:   config.Duration(30 * time.Second),
			MaxBodyBytes:      6291456,
			TLS:               config.ServerTLS{ClientAuth: "none"},
		},
		Storage: config.Storage{
			Blob:               "file:///var/lib/glassbox/data",
			Spool:              "/var/lib/glassbox/spool",
			QueueMaxRecords:    10000,
			QueueMaxBytes:      256 << 20,
			SpoolMaxBytes:      1 << 30,
			SpoolSegmentBytes:  64 << 20,
			SpoolFsyncInterval: config.Duration(200 * time.Millisecond),
			S3:                 config.S3{SSE: "none"},
		},
		Log: config.Log{Level: "info", Format: "text"},
		Endpoints: []config.Endpoint{{
			Name: "churn",
			Tags: map[string]string{"owner": "risk-team", "cost-center": "cc-42"},
			Variants: []config.Variant{{
				Name:            "AllTraffic",
				Upstream:        "http://127.0.0.1:9001",
				Weight:          1,
				InvocationsPath: "/invocations",
			}},
			Capture: config.Capture{
				Enabled:          ptr(true),
				SamplingPercent:  ptr(100.0),
				Modes:            []string{"input", "output"},
				CSVContentTypes:  []string{"text/csv"},
				JSONContentTypes: []string{"application/json"},
				Durability:       "async",
				OnSpoolFull:      "shed", // async's default
				MaxObjectSeconds: 60,
				MaxObjectBytes:   64 << 20,
				MaxPayloadBytes:  6 << 20,
				Strict:           false,
			},
			Timeout:      config.Duration(60 * time.Second),
			MaxBodyBytes: 0,
			Auth:         config.AuthNone,
			Monitor: config.Monitor{
				Input:  config.RowAssembly{Format: "auto"},
				Output: config.RowAssembly{Format: "auto"},
				Drift:  config.Drift{ShareThreshold: 0.5},
			},
		}},
		OIDC:       config.OIDC{RolesClaim: "groups", SubjectClaim: "sub"},
		Monitoring: config.Monitoring{ReportsPrefix: "reports"},
		Cost:       config.DefaultCost(),
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Parse(issue.good.yaml) mismatch (-want +got):\n%s", diff)
	}

	// The minimal file leaves every capture key out and gets the same result.
	minimal, err := config.Parse(mustReadFile(t, "testdata/minimal.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want.Storage = config.Default().Storage
	want.Endpoints[0].Tags = nil
	if diff := cmp.Diff(want, minimal); diff != "" {
		t.Errorf("Parse(minimal.good.yaml) mismatch (-want +got):\n%s", diff)
	}
}

func TestParse_empty(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "{}\n"} {
		cfg, err := config.Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if diff := cmp.Diff(config.Default(), cfg); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", in, diff)
		}
	}
}

func TestParse_nullKeepsDefault(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/nulls.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.Endpoints = []config.Endpoint{config.DefaultEndpoint()}
	want.Endpoints[0].Name = "churn"
	want.Endpoints[0].Variants = []config.Variant{config.DefaultVariant()}
	want.Endpoints[0].Variants[0].Name = "AllTraffic"
	want.Endpoints[0].Variants[0].Upstream = "http://127.0.0.1:9001"
	want.Endpoints[0].Capture.OnSpoolFull = "shed" // resolved from durability: async
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestParse_explicitValuesReplaceDefaults(t *testing.T) {
	cfg := mustParse(t, `
endpoints:
  - name: churn
    variants:
      - {name: a, upstream: "http://127.0.0.1:9001"}
      - {name: b, upstream: "http://127.0.0.1:9002", weight: 0}
    capture:
      enabled: false
      sampling_percent: 0
      modes: [output]
`)
	e := cfg.Endpoints[0]
	if got := []float64{e.Variants[0].Weight, e.Variants[1].Weight}; !cmp.Equal(got, []float64{1, 0}) {
		t.Errorf("weights = %v, want [1 0] (omitted means 1, explicit 0 stays 0)", got)
	}
	if e.Capture.IsEnabled() || e.Capture.Enabled == nil {
		t.Errorf("capture.enabled = %v, want explicit false", e.Capture.Enabled)
	}
	if e.Capture.Sampling() != 0 {
		t.Errorf("Sampling() = %v, want 0", e.Capture.Sampling())
	}
	if diff := cmp.Diff([]string{"output"}, e.Capture.Modes); diff != "" {
		t.Errorf("modes mismatch (-want +got):\n%s", diff)
	}
}

func TestParse_anchors(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/anchors.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	first, second := cfg.Endpoints[0].Capture, cfg.Endpoints[1].Capture
	if first.Sampling() != 10 || second.Sampling() != 10 {
		t.Errorf("sampling = %v, %v; want 10, 10 (merged)", first.Sampling(), second.Sampling())
	}
	if first.Durability != "sync" || second.Durability != "async" {
		t.Errorf("durability = %q, %q; want sync, async (overridden)", first.Durability, second.Durability)
	}
	if diff := cmp.Diff(first.Modes, second.Modes); diff != "" || len(first.Modes) != 1 {
		t.Errorf("modes = %v, %v; want [input] twice", first.Modes, second.Modes)
	}
}

func TestParse_envExpansion(t *testing.T) {
	t.Setenv("GB_PORT", "9090")
	t.Setenv("GB_UPSTREAM", "http://10.0.0.1:8080/model?")
	t.Setenv("GB_EMPTY", "")
	t.Setenv("GB_PCT", "12.5")
	t.Setenv("GB_YAML", "a: [b, {c: d}] # not YAML once expanded")
	unsetenv(t, "GB_UNSET")

	tests := []struct {
		name  string
		value string // the YAML value of storage.spool
		want  string
	}{
		{"plain", "${GB_PORT}", "9090"},
		{"embedded", "/data/${GB_PORT}/spool", "/data/9090/spool"},
		{"twice", "${GB_PORT}-${GB_PORT}", "9090-9090"},
		{"default unused", "${GB_PORT:-1}", "9090"},
		{"default for unset", "${GB_UNSET:-/tmp/spool}", "/tmp/spool"},
		{"default for empty", "${GB_EMPTY:-/tmp/spool}", "/tmp/spool"},
		{"empty default", "x${GB_UNSET:-}y", "xy"},
		{"default with colon", "${GB_UNSET:-http://a:1/b}", "http://a:1/b"},
		{"set but empty", "x${GB_EMPTY}y", "xy"},
		{"dollar dollar", "$${GB_PORT}", "${GB_PORT}"},
		{"lone dollar", "a$b$", "a$b$"},
		{"special characters", "'${GB_YAML}'", "a: [b, {c: d}] # not YAML once expanded"},
		{"quoted", `"${GB_PORT}"`, "9090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, "storage:\n  spool: "+tt.value+"\n")
			if cfg.Storage.Spool != tt.want {
				t.Errorf("spool = %q, want %q", cfg.Storage.Spool, tt.want)
			}
		})
	}

	t.Run("typed values", func(t *testing.T) {
		cfg := mustParse(t, `
server:
  listen: 127.0.0.1:${GB_PORT}
endpoints:
  - name: churn
    variants:
      - {name: a, upstream: "http://${GB_UNSET:-127.0.0.1}:${GB_PORT}", weight: "${GB_PORT}"}
    capture:
      sampling_percent: ${GB_PCT}
      max_object_seconds: ${GB_UNSET:-120}
`)
		if cfg.Server.Listen != "127.0.0.1:9090" {
			t.Errorf("listen = %q", cfg.Server.Listen)
		}
		e := cfg.Endpoints[0]
		if e.Variants[0].Upstream != "http://127.0.0.1:9090" {
			t.Errorf("upstream = %q", e.Variants[0].Upstream)
		}
		if e.Variants[0].Weight != 9090 || e.Capture.Sampling() != 12.5 || e.Capture.MaxObjectSeconds != 120 {
			t.Errorf("weight %v, sampling %v, max_object_seconds %v; want 9090, 12.5, 120",
				e.Variants[0].Weight, e.Capture.Sampling(), e.Capture.MaxObjectSeconds)
		}
	})

	t.Run("query from the environment is still checked", func(t *testing.T) {
		_, err := config.Parse([]byte("endpoints:\n  - name: e\n    variants: [{name: a, upstream: '${GB_UPSTREAM}'}]\n"))
		if want := "endpoints[0].variants[0].upstream: invalid URL"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	})

	t.Run("unset", func(t *testing.T) {
		_, err := config.Parse([]byte("log:\n  level: ${GB_UNSET}\n"))
		want := `log.level: environment variable "GB_UNSET" is not set`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	})

	t.Run("keys are not expanded", func(t *testing.T) {
		_, err := config.Parse([]byte("${GB_PORT}: 1\n"))
		want := "${GB_PORT}\"]: unknown key"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	})
}

func TestParse_reportsAllDecodeProblems(t *testing.T) {
	_, err := config.Parse([]byte(`
server:
  listn: x
  max_body_bytes: lots
endpoints:
  - name: churn
    capture: {sampling_pct: 5, enabled: sure}
`))
	var verr config.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v (%T), want a ValidationError", err, err)
	}
	want := []config.Problem{
		{Path: "server.listn", Message: `unknown key (line 3); did you mean "listen"?`},
		{Path: "server.max_body_bytes", Message: `cannot parse "lots" as a byte size: want a whole number of bytes, or one with a unit such as "512KB", "6MiB" or "1GiB" (line 4)`},
		{Path: "endpoints[0].capture.sampling_pct", Message: `unknown key (line 7); did you mean "sampling_percent"?`},
		{Path: "endpoints[0].capture.enabled", Message: `cannot parse "sure" as a boolean: want true or false (line 7)`},
	}
	if diff := cmp.Diff(want, verr.Problems); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestParse_neverReturnsConfigWithError(t *testing.T) {
	cfg, err := config.Parse([]byte("log: {level: loud}\n"))
	if err == nil || cfg != nil {
		t.Errorf("Parse = %v, %v; want nil, error", cfg, err)
	}
}

func TestLoad(t *testing.T) {
	t.Run("example", func(t *testing.T) {
		cfg, err := config.Load(examplePath)
		if err != nil {
			t.Fatal(err)
		}
		e, ok := cfg.Endpoint("loan-scorer")
		if !ok {
			t.Fatal(`no endpoint "loan-scorer" in the example`)
		}
		got := make(map[string]float64)
		for _, v := range e.Variants {
			got[v.Upstream] = v.Weight
		}
		want := map[string]float64{"http://127.0.0.1:9001": 9, "http://127.0.0.1:9002": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("variants mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("example shows every default", func(t *testing.T) {
		// Every key of the schema appears in the example (commented or not).
		data := string(mustReadFile(t, examplePath))
		for _, key := range []string{
			"listen", "read_header_timeout", "idle_timeout", "shutdown_timeout", "max_body_bytes",
			"blob", "spool", "queue_max_records", "queue_max_bytes",
			"spool_max_bytes", "spool_segment_bytes", "spool_fsync_interval",
			"s3", "endpoint", "region", "path_style", "sse", "kms_key_id", "level", "format",
			"name", "tags", "variants", "upstream", "weight", "invocations_path", "capture",
			"enabled", "sampling_percent", "modes", "csv_content_types", "json_content_types",
			"durability", "on_spool_full", "max_object_seconds", "max_object_bytes", "max_payload_bytes", "strict", "timeout",
		} {
			if !strings.Contains(data, key+":") {
				t.Errorf("example does not mention %q", key)
			}
		}
	})
	t.Run("error names the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(path, []byte("log: {level: loud}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": log.level: invalid value") {
			t.Errorf("err = %v, want it to start with %q", err, path+": log.level")
		}
		var verr config.ValidationError
		if !errors.As(err, &verr) {
			t.Errorf("err = %v, want it to wrap a ValidationError", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.yaml")
		_, err := config.Load(path)
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("err = %v, want a not-exist error naming %s", err, path)
		}
	})
}

func TestDefault_isValid(t *testing.T) {
	if err := config.Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	// Each call returns fresh values: changing one must not change the next.
	c := config.Default()
	c.Server.Listen = "changed"
	e := config.DefaultEndpoint()
	e.Capture.Modes[0] = "changed"
	*e.Capture.Enabled = false
	if config.Default().Server.Listen == "changed" || config.DefaultEndpoint().Capture.Modes[0] == "changed" ||
		!*config.DefaultEndpoint().Capture.Enabled {
		t.Error("Default or DefaultEndpoint share state between calls")
	}
}

func TestValidate_listsAllProblems(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Blob = "gs://bucket/prefix"
	cfg.Log.Format = "xml"
	ok := config.Endpoint{Name: "ok", Variants: []config.Variant{{Name: "v", Upstream: "http://127.0.0.1:1", Weight: 1}}}
	ok.ApplyDefaults()
	bad := ok
	bad.Variants = []config.Variant{
		{Name: "v", Upstream: "http://127.0.0.1:1#frag", Weight: 0, InvocationsPath: "/invocations"},
		{Name: "v", Upstream: "https://example.com", Weight: 0, InvocationsPath: "/predict?x"},
	}
	bad.Capture.Modes = []string{}
	cfg.Endpoints = []config.Endpoint{ok, bad}

	err := cfg.Validate()
	var verr *config.ValidationError // the pointer form works with errors.As too
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v (%T), want a ValidationError", err, err)
	}
	want := []config.Problem{
		{Path: "storage.blob", Message: `unsupported scheme "gs": only file:// and s3:// are supported`},
		{Path: "log.format", Message: `invalid value "xml": want one of text, json`},
		{Path: "endpoints[1].variants[0].upstream", Message: `invalid URL "http://127.0.0.1:1#frag": must not have a fragment`},
		{Path: "endpoints[1].variants[1].invocations_path", Message: `must not contain a query or fragment, got "/predict?x"`},
		{Path: "endpoints[1].variants[1].name", Message: `duplicate variant name "v" (also endpoints[1].variants[0].name)`},
		{Path: "endpoints[1].variants", Message: "at least one variant must have a weight greater than 0"},
		{Path: "endpoints[1].capture.modes", Message: "must list at least one of input, output"},
		{Path: "endpoints[1].name", Message: `duplicate endpoint name "ok" (also endpoints[0].name)`},
	}
	if diff := cmp.Diff(want, verr.Problems); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) || lines[0] != `storage.blob: unsupported scheme "gs": only file:// and s3:// are supported` {
		t.Errorf("Error() = %q, want one \"path: message\" line per problem", err.Error())
	}
}

func TestEndpoint_ApplyDefaults(t *testing.T) {
	e := config.Endpoint{
		Name:     "churn",
		Variants: []config.Variant{{Name: "a", Upstream: "http://127.0.0.1:9001"}},
		Capture:  config.Capture{Durability: "sync", JSONContentTypes: []string{"application/jsonlines"}},
	}
	e.ApplyDefaults()
	want := config.DefaultEndpoint()
	want.Name = "churn"
	want.Variants = []config.Variant{{Name: "a", Upstream: "http://127.0.0.1:9001", InvocationsPath: "/invocations"}}
	want.Capture.Durability = "sync"
	want.Capture.OnSpoolFull = "reject" // sync's default
	want.Capture.JSONContentTypes = []string{"application/jsonlines"}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestConfig_Endpoint(t *testing.T) {
	cfg := mustParse(t, string(mustReadFile(t, "testdata/full.good.yaml")))
	e, ok := cfg.Endpoint("a")
	if !ok || e != &cfg.Endpoints[1] {
		t.Errorf(`Endpoint("a") = %p, %v; want &Endpoints[1], true`, e, ok)
	}
	if e, ok := cfg.Endpoint("missing"); ok || e != nil {
		t.Errorf(`Endpoint("missing") = %v, %v; want nil, false`, e, ok)
	}
}

func TestCapture_accessors(t *testing.T) {
	var c config.Capture
	if !c.IsEnabled() || c.Sampling() != 100 {
		t.Errorf("zero Capture: IsEnabled %v, Sampling %v; want true, 100", c.IsEnabled(), c.Sampling())
	}
	c.Enabled, c.SamplingPercent = ptr(false), ptr(2.5)
	if c.IsEnabled() || c.Sampling() != 2.5 {
		t.Errorf("set Capture: IsEnabled %v, Sampling %v; want false, 2.5", c.IsEnabled(), c.Sampling())
	}
}

func TestBlobPath(t *testing.T) {
	tests := []struct {
		blob, want, err string
	}{
		{blob: "file:///var/lib/glassbox/data", want: "/var/lib/glassbox/data"},
		{blob: "file://./glassbox-data", want: "./glassbox-data"},
		{blob: "file://glassbox-data/sub", want: "glassbox-data/sub"},
		{blob: "FILE:///x", want: "/x"},
		{blob: "file://", err: "file URL has no path"},
		{blob: "s3://bucket/prefix", err: `blob "s3://bucket/prefix": not a file:// URL`},
		{blob: "gs://bucket", err: `unsupported scheme "gs"`},
		{blob: "/var/lib/glassbox", err: "invalid URL"},
		{blob: "", err: "must not be empty"},
	}
	for _, tt := range tests {
		got, err := config.BlobPath(tt.blob)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("BlobPath(%q) error = %v, want it to contain %q", tt.blob, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("BlobPath(%q) = %q, %v; want %q", tt.blob, got, err, tt.want)
		}
	}
}

func TestExample_showsDefaults(t *testing.T) {
	// The example writes out every default; keep it in step with defaults.go.
	cfg, err := config.Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.Endpoints = cfg.Endpoints
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("top-level sections differ from Default() (-want +got):\n%s", diff)
	}
	e, d := cfg.Endpoints[0], config.DefaultEndpoint()
	d.ApplyDefaults() // resolves on_spool_full for the default durability
	if diff := cmp.Diff(d.Capture, e.Capture); diff != "" {
		t.Errorf("capture differs from DefaultEndpoint() (-want +got):\n%s", diff)
	}
	if e.Timeout != d.Timeout || e.MaxBodyBytes != d.MaxBodyBytes {
		t.Errorf("timeout, max_body_bytes = %v, %v; want %v, %v", e.Timeout, e.MaxBodyBytes, d.Timeout, d.MaxBodyBytes)
	}
	for i, v := range e.Variants {
		if v.InvocationsPath != config.DefaultVariant().InvocationsPath {
			t.Errorf("variants[%d].invocations_path = %q, want the default", i, v.InvocationsPath)
		}
	}
}

func TestParse_onSpoolFull(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/on-spool-full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"async-default": "shed",   // left out, async
		"sync-default":  "reject", // left out, sync
		"sync-shed":     "shed",   // explicit wins over sync's default
		"async-reject":  "reject", // explicit wins over async's default
		"sync-null":     "reject", // null keeps the default, which follows durability
		"merged-reject": "reject", // from a merge key, durability overridden to sync
	}
	got := make(map[string]string)
	for _, e := range cfg.Endpoints {
		got[e.Name] = e.Capture.OnSpoolFull
		if p := e.Capture.SpoolFullPolicy(); p != e.Capture.OnSpoolFull {
			t.Errorf("%s: SpoolFullPolicy() = %q, OnSpoolFull = %q; want them equal after Parse", e.Name, p, e.Capture.OnSpoolFull)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("on_spool_full mismatch (-want +got):\n%s", diff)
	}
	if s := cfg.Storage; s.SpoolMaxBytes != 8<<30 || s.SpoolSegmentBytes != 128<<20 ||
		s.SpoolFsyncInterval != config.Duration(50*time.Millisecond) {
		t.Errorf("spool_max_bytes, spool_segment_bytes, spool_fsync_interval = %v, %v, %v; want 8GiB, 128MiB, 50ms",
			s.SpoolMaxBytes, s.SpoolSegmentBytes, s.SpoolFsyncInterval)
	}

	// The default is resolved from the durability an environment variable
	// gives, after expansion.
	t.Setenv("GB_DURABILITY", "sync")
	cfg = mustParse(t, "endpoints:\n  - {name: e, variants: [{name: a, upstream: 'http://127.0.0.1:1'}], capture: {durability: '${GB_DURABILITY}'}}\n")
	if got := cfg.Endpoints[0].Capture.OnSpoolFull; got != "reject" {
		t.Errorf("durability from the environment: on_spool_full = %q, want reject", got)
	}
}

func TestParse_s3(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/s3-blob.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.S3{
		Endpoint:  "https://s3.eu-west-1.amazonaws.com",
		Region:    "eu-west-1",
		PathStyle: false,
		SSE:       "kms",
		KMSKeyID:  "alias/glassbox-capture",
	}
	if diff := cmp.Diff(want, cfg.Storage.S3); diff != "" {
		t.Errorf("storage.s3 mismatch (-want +got):\n%s", diff)
	}
	if got := config.BlobScheme(cfg.Storage.Blob); got != "s3" {
		t.Errorf("BlobScheme = %q, want s3", got)
	}
	bucket, prefix, err := config.S3Location(cfg.Storage.Blob)
	if err != nil || bucket != "glassbox-captures" || prefix != "prod/eu-west-1" {
		t.Errorf("S3Location = %q, %q, %v; want glassbox-captures, prod/eu-west-1", bucket, prefix, err)
	}

	minio, err := config.Parse(mustReadFile(t, "testdata/s3-minio.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want = config.S3{Endpoint: "http://127.0.0.1:9000", PathStyle: true, SSE: "aes256"}
	if diff := cmp.Diff(want, minio.Storage.S3); diff != "" {
		t.Errorf("storage.s3 (minio) mismatch (-want +got):\n%s", diff)
	}
}

func TestValidate_storage(t *testing.T) {
	tests := []struct {
		name   string
		change func(*config.Storage)
		want   []config.Problem // nil: valid
	}{
		{"defaults", func(*config.Storage) {}, nil},
		{"smallest spool", func(s *config.Storage) {
			s.SpoolMaxBytes, s.SpoolSegmentBytes, s.SpoolFsyncInterval = config.MiB, 64*config.KiB, 1
		}, nil},
		{"segment as large as the spool", func(s *config.Storage) {
			s.SpoolMaxBytes, s.SpoolSegmentBytes, s.SpoolFsyncInterval = config.GiB, config.GiB, config.Duration(10*time.Second)
		}, nil},
		{"spool too small, segment not compared with it", func(s *config.Storage) { s.SpoolMaxBytes = config.MiB - 1 }, []config.Problem{
			{Path: "storage.spool_max_bytes", Message: "must be at least 1MiB, got 1048575B"},
		}},
		{"segment larger than the spool", func(s *config.Storage) { s.SpoolMaxBytes = 32 * config.MiB }, []config.Problem{
			{Path: "storage.spool_segment_bytes", Message: "must be at most storage.spool_max_bytes (32MiB), got 64MiB"},
		}},
		{"fsync interval just above 10s", func(s *config.Storage) { s.SpoolFsyncInterval = config.Duration(10*time.Second + 1) }, []config.Problem{
			{Path: "storage.spool_fsync_interval", Message: "must be at most 10s, got 10.000000001s"},
		}},
		{"s3 keys with a file blob", func(s *config.Storage) {
			s.S3 = config.S3{Endpoint: "x", PathStyle: true, SSE: "kms", KMSKeyID: "bad key"}
		}, []config.Problem{
			{Path: "storage.s3.endpoint", Message: "storage.s3 applies only to s3:// blob stores, but storage.blob is a file:// URL"},
			{Path: "storage.s3.path_style", Message: "storage.s3 applies only to s3:// blob stores, but storage.blob is a file:// URL"},
			{Path: "storage.s3.sse", Message: "storage.s3 applies only to s3:// blob stores, but storage.blob is a file:// URL"},
			{Path: "storage.s3.kms_key_id", Message: "storage.s3 applies only to s3:// blob stores, but storage.blob is a file:// URL"},
		}},
		{"s3 section at its defaults with a file blob", func(s *config.Storage) { s.S3 = config.S3{SSE: "none"} }, nil},
		{"every s3 key", func(s *config.Storage) {
			s.Blob = "S3://bucket.with.dots-1/a/b"
			s.S3 = config.S3{Endpoint: "http://[::1]:9000/base", Region: "auto", PathStyle: true, SSE: "kms",
				KMSKeyID: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
		}, nil},
		{"kms without a key id", func(s *config.Storage) { s.Blob, s.S3.SSE = "s3://bucket", "kms" }, nil},
		{"bad s3 section", func(s *config.Storage) {
			s.Blob = "s3://bucket"
			s.S3 = config.S3{Endpoint: "https://minio:9000/?x=1", SSE: "", KMSKeyID: "alias/x"}
		}, []config.Problem{
			{Path: "storage.s3.endpoint", Message: `invalid URL "https://minio:9000/?x=1": must not have a query`},
			{Path: "storage.s3.sse", Message: `invalid value "": want one of none, aes256, kms`},
			{Path: "storage.s3.kms_key_id", Message: `applies only with sse: kms, but sse is ""`},
		}},
		{"kms key too long", func(s *config.Storage) {
			s.Blob, s.S3.SSE, s.S3.KMSKeyID = "s3://bucket", "kms", strings.Repeat("k", 2049)
		}, []config.Problem{
			{Path: "storage.s3.kms_key_id", Message: "is 2049 characters long; the maximum is 2048"},
		}},
		{"s3 section checked when the blob is invalid", func(s *config.Storage) { s.Blob, s.S3.SSE = "gs://b", "AES256" }, []config.Problem{
			{Path: "storage.blob", Message: `unsupported scheme "gs": only file:// and s3:// are supported`},
			{Path: "storage.s3.sse", Message: `invalid value "AES256": want one of none, aes256, kms`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			tt.change(&cfg.Storage)
			err := cfg.Validate()
			var got []config.Problem
			var verr config.ValidationError
			if errors.As(err, &verr) {
				got = verr.Problems
			} else if err != nil {
				t.Fatalf("err = %v (%T), want a ValidationError", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate_onSpoolFullInCode(t *testing.T) {
	// An endpoint built in code gets on_spool_full from ApplyDefaults;
	// without it Validate reports the empty value, as for durability.
	e := config.Endpoint{Name: "e", Variants: []config.Variant{{Name: "v", Upstream: "http://127.0.0.1:1", Weight: 1}}}
	e.ApplyDefaults()
	e.Capture.OnSpoolFull = ""
	cfg := config.Default()
	cfg.Endpoints = []config.Endpoint{e}
	err := cfg.Validate()
	if want := `endpoints[0].capture.on_spool_full: invalid value "": want one of reject, shed`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	e.Capture.OnSpoolFull = "shed"
	e.Capture.Durability = "sync"
	e.ApplyDefaults() // keeps an explicit value
	if e.Capture.OnSpoolFull != "shed" {
		t.Errorf("ApplyDefaults replaced on_spool_full %q", e.Capture.OnSpoolFull)
	}
}

func TestCapture_SpoolFullPolicy(t *testing.T) {
	tests := []struct {
		durability, onSpoolFull, want string
	}{
		{"", "", "shed"},
		{"async", "", "shed"},
		{"sync", "", "reject"},
		{"sync", "shed", "shed"},
		{"async", "reject", "reject"},
	}
	for _, tt := range tests {
		c := config.Capture{Durability: tt.durability, OnSpoolFull: tt.onSpoolFull}
		if got := c.SpoolFullPolicy(); got != tt.want {
			t.Errorf("Capture{Durability: %q, OnSpoolFull: %q}.SpoolFullPolicy() = %q, want %q",
				tt.durability, tt.onSpoolFull, got, tt.want)
		}
	}
}

func TestBlobScheme(t *testing.T) {
	for blob, want := range map[string]string{
		"file:///var/lib/glassbox": "file",
		"file://./data":            "file",
		"FILE:///x":                "file",
		"file://":                  "file", // the scheme only; BlobPath rejects it
		"s3://bucket/prefix":       "s3",
		"S3://bucket":              "s3",
		"s3://Not_A_Bucket":        "s3",
		"gs://bucket":              "",
		"/var/lib/glassbox":        "",
		"bucket/prefix":            "",
		"":                         "",
	} {
		if got := config.BlobScheme(blob); got != want {
			t.Errorf("BlobScheme(%q) = %q, want %q", blob, got, want)
		}
	}
}

func TestS3Location(t *testing.T) {
	tests := []struct {
		blob, bucket, prefix, err string
	}{
		{blob: "s3://my-bucket", bucket: "my-bucket"},
		{blob: "s3://my-bucket/", bucket: "my-bucket"},
		{blob: "s3://my-bucket//", bucket: "my-bucket"},
		{blob: "s3://my-bucket/capture", bucket: "my-bucket", prefix: "capture"},
		{blob: "s3://my-bucket//a/b/c//", bucket: "my-bucket", prefix: "a/b/c"},
		{blob: "S3://abc/x y/z%20", bucket: "abc", prefix: "x y/z%20"},
		{blob: "s3://a.b-c.123/p", bucket: "a.b-c.123", prefix: "p"},
		{blob: "s3://" + strings.Repeat("a", 63), bucket: strings.Repeat("a", 63)},
		{blob: "s3://my-bucket/" + strings.Repeat("p", 1024), bucket: "my-bucket", prefix: strings.Repeat("p", 1024)},

		{blob: "s3://", err: "s3 URL has no bucket"},
		{blob: "s3:///prefix", err: "s3 URL has no bucket"},
		{blob: "s3://ab", err: `invalid bucket name "ab": must be 3 to 63 characters long, got 2`},
		{blob: "s3://" + strings.Repeat("a", 64), err: "must be 3 to 63 characters long, got 64"},
		{blob: "s3://My-Bucket", err: `invalid bucket name "My-Bucket": use only lowercase letters, digits, dots and hyphens`},
		{blob: "s3://my_bucket", err: "use only lowercase letters, digits, dots and hyphens"},
		{blob: "s3://-bucket", err: "must start and end with a letter or digit"},
		{blob: "s3://bucket.", err: "must start and end with a letter or digit"},
		{blob: "s3://my..bucket", err: `must not contain ".."`},
		{blob: "s3://10.0.0.1/x", err: "must not be formatted as an IP address"},
		{blob: "s3://xn--bucket", err: `the prefix "xn--" is reserved by S3`},
		{blob: "s3://bucket-s3alias", err: `the suffix "-s3alias" is reserved by S3`},
		{blob: "s3://my-bucket/a//b", err: `invalid prefix "a//b": must not contain "//"`},
		{blob: "s3://my-bucket/a/../b", err: `invalid prefix "a/../b": must not contain a ".." segment`},
		{blob: "s3://my-bucket/./a", err: `must not contain a "." segment`},
		{blob: `s3://my-bucket/a\b`, err: "must not contain a backslash or NUL byte"},
		{blob: "s3://my-bucket/a\xffb", err: "not valid UTF-8"},
		{blob: "s3://my-bucket/" + strings.Repeat("p", 1025), err: "is 1025 bytes long; the maximum is 1024"},
		{blob: "s3://my-bucket/capture?region=eu", err: "must not have a query or fragment"},
		{blob: "s3://my-bucket#x", err: "must not have a query or fragment"},
		{blob: "file:///var/lib/glassbox", err: `blob "file:///var/lib/glassbox": not an s3:// URL`},
		{blob: "gs://bucket", err: `unsupported scheme "gs"`},
		{blob: "", err: "must not be empty"},
	}
	for _, tt := range tests {
		bucket, prefix, err := config.S3Location(tt.blob)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || bucket != "" || prefix != ""):
			t.Errorf("S3Location(%q) = %q, %q, %v; want an error containing %q", tt.blob, bucket, prefix, err, tt.err)
		case tt.err == "" && (err != nil || bucket != tt.bucket || prefix != tt.prefix):
			t.Errorf("S3Location(%q) = %q, %q, %v; want %q, %q", tt.blob, bucket, prefix, err, tt.bucket, tt.prefix)
		}
	}
}
