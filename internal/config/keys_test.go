package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParse_keys(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/keys-local.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Keys{Provider: config.KeysProviderLocal, Keyring: "/var/lib/glassbox/keys/keyring.json"}
	if diff := cmp.Diff(want, cfg.Keys); diff != "" {
		t.Errorf("Keys mismatch (-want +got):\n%s", diff)
	}
	if !cfg.Keys.Enabled() || config.Default().Keys.Enabled() {
		t.Error("Enabled: want true with a provider, false by default")
	}
	if !cfg.Endpoints[0].Capture.Encrypt || cfg.Endpoints[1].Capture.Encrypt {
		t.Errorf("capture.encrypt = %v, %v; want true, false", cfg.Endpoints[0].Capture.Encrypt, cfg.Endpoints[1].Capture.Encrypt)
	}
	if got := config.KMSStatePath("/var/lib/glassbox/spool/"); got != "/var/lib/glassbox/spool.kms-state.json" {
		t.Errorf("KMSStatePath = %q", got)
	}
}

func TestConfig_EncryptWithoutKeys(t *testing.T) {
	cfg := mustParse(t, `endpoints:
  - name: churn
    variants: [{name: AllTraffic, upstream: "http://127.0.0.1:9001"}]
    capture: {encrypt: true}
`)
	err := cfg.EncryptWithoutKeys()
	if err == nil || !strings.Contains(err.Error(), "endpoints[0].capture.encrypt: needs a key provider") {
		t.Fatalf("EncryptWithoutKeys = %v", err)
	}
	cfg.Keys = config.Keys{Provider: config.KeysProviderLocal, Keyring: "/k.json"}
	if err := cfg.EncryptWithoutKeys(); err != nil {
		t.Fatalf("with a provider: %v", err)
	}
	// A single endpoint parses without the keys section (the API's path).
	if _, err := config.ParseEndpoint([]byte(`{"name": "x", "variants": [{"name": "v", "upstream": "http://127.0.0.1:1"}], "capture": {"encrypt": true}}`), config.Policies{}); err != nil {
		t.Fatalf("ParseEndpoint with capture.encrypt: %v", err)
	}
}
