package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParse_tls(t *testing.T) {
	cfg, err := config.Parse(mustReadFile(t, "testdata/tls.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wantServer := config.ServerTLS{
		CertFile:     "/etc/glassbox/tls/server.crt",
		KeyFile:      "/etc/glassbox/tls/server.key",
		ClientCAFile: "/etc/glassbox/tls/clients-ca.pem",
		ClientAuth:   config.ClientAuthRequire,
	}
	if diff := cmp.Diff(wantServer, cfg.Server.TLS); diff != "" {
		t.Errorf("server.tls mismatch (-want +got):\n%s", diff)
	}
	if !cfg.Server.TLS.Enabled() {
		t.Error("Enabled() = false with a cert_file")
	}
	vs := cfg.Endpoints[0].Variants
	want := []*config.UpstreamTLS{
		{CAFile: "/etc/glassbox/tls/models-ca.pem", CertFile: "/etc/glassbox/tls/gateway-client.crt",
			KeyFile: "/etc/glassbox/tls/gateway-client.key", ServerName: "model.internal"},
		{CAFile: "/etc/glassbox/tls/models-ca.pem", ServerName: "model-b.internal"},
		{},
	}
	for i := range want {
		if diff := cmp.Diff(want[i], vs[i].TLS); diff != "" {
			t.Errorf("variants[%d].tls mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestServerTLS_default(t *testing.T) {
	d := config.Default().Server.TLS
	if d.Enabled() || d.ClientAuth != config.ClientAuthNone {
		t.Errorf("default server.tls = %+v, want off with client_auth none", d)
	}
}

func TestMarshalEndpoint_tls(t *testing.T) {
	t.Run("without tls the stored spec has no tls key", func(t *testing.T) {
		e, err := config.ParseEndpoint([]byte("name: churn\nvariants: [{name: A, upstream: https://m.internal}]\n"), config.Policies{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := config.MarshalEndpoint(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "tls") {
			t.Errorf("spec mentions tls:\n%s", b)
		}
	})
	t.Run("tls round trips", func(t *testing.T) {
		spec := `{"name":"churn","variants":[{"name":"A","upstream":"https://10.0.0.7","tls":{"ca_file":"/ca.pem","cert_file":"/c.pem","key_file":"/k.pem","server_name":"m.internal"}}]}`
		e, err := config.ParseEndpoint([]byte(spec), config.Policies{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := config.MarshalEndpoint(e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := config.ParseEndpoint(b, config.Policies{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(e.Variants[0].TLS, again.Variants[0].TLS); diff != "" {
			t.Errorf("round trip mismatch (-first +again):\n%s", diff)
		}
	})
	t.Run("API problems are relative to the endpoint", func(t *testing.T) {
		spec := `{"name":"churn","variants":[{"name":"A","upstream":"http://m.internal","tls":{"ca_file":"/ca.pem"}}]}`
		_, err := config.ParseEndpoint([]byte(spec), config.Policies{})
		if err == nil || !strings.Contains(err.Error(), "variants[0].tls: applies only to https:// upstreams") {
			t.Errorf("error = %v, want variants[0].tls: applies only to https:// upstreams", err)
		}
	})
}
