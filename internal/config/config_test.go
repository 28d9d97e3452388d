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
		},
		Storage: config.Storage{
			Blob:            "file:///var/lib/glassbox/data",
			Spool:           "/var/lib/glassbox/spool",
			QueueMaxRecords: 10000,
			QueueMaxBytes:   256 << 20,
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
				MaxObjectSeconds: 60,
				MaxObjectBytes:   64 << 20,
				MaxPayloadBytes:  6 << 20,
				Strict:           false,
			},
			Timeout:      config.Duration(60 * time.Second),
			MaxBodyBytes: 0,
		}},
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
			"blob", "spool", "queue_max_records", "queue_max_bytes", "level", "format",
			"name", "tags", "variants", "upstream", "weight", "invocations_path", "capture",
			"enabled", "sampling_percent", "modes", "csv_content_types", "json_content_types",
			"durability", "max_object_seconds", "max_object_bytes", "max_payload_bytes", "strict", "timeout",
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
	cfg.Storage.Blob = "s3://bucket/prefix"
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
		{Path: "storage.blob", Message: "s3 blob stores are not supported yet"},
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
	if len(lines) != len(want) || lines[0] != "storage.blob: s3 blob stores are not supported yet" {
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
		{blob: "s3://bucket/prefix", err: "s3 blob stores are not supported yet"},
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
