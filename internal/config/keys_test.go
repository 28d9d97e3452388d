package config_test

import (
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
