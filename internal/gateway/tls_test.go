package gateway_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/gateway"
)

// invokeVariant posts to an endpoint's invocations route, targeting a
// variant, and returns the status and body.
func invokeVariant(t *testing.T, base, endpoint, variant string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/endpoints/"+endpoint+"/invocations", strings.NewReader("1,2"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set(gateway.HeaderTargetVariant, variant)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGateway_UpstreamTLS(t *testing.T) {
	answer := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) }
	}
	secure := httptest.NewTLSServer(answer("secure"))
	defer secure.Close()
	plain := httptest.NewServer(answer("plain"))
	defer plain.Close()
	// The roots that trust secure's certificate, as a caller would build
	// them from a CA file.
	roots := secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	var logs bytes.Buffer
	g, err := gateway.New(gateway.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Endpoints: []gateway.Endpoint{{Name: "m", Variants: []gateway.Variant{
			{Name: "trusted", Upstream: mustURL(t, secure.URL), Weight: 1, TLS: &tls.Config{RootCAs: roots}},
			{Name: "system-roots", Upstream: mustURL(t, secure.URL), Weight: 1},
			{Name: "plain", Upstream: mustURL(t, plain.URL), Weight: 1},
			{Name: "not-tls", Upstream: mustURL(t, strings.Replace(plain.URL, "http:", "https:", 1)), Weight: 1, TLS: &tls.Config{RootCAs: roots}},
			{Name: "insecure", Upstream: mustURL(t, secure.URL), Weight: 1, TLS: &tls.Config{InsecureSkipVerify: true}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()

	for _, tc := range []struct {
		variant string
		status  int
		body    []string
	}{
		{"trusted", 200, []string{"secure"}},
		{"plain", 200, []string{"plain"}}, // variants without TLS share the endpoint's transport
		{"insecure", 200, []string{"secure"}},
		{"system-roots", 502, []string{"variant system-roots failed TLS certificate verification", "tls.ca_file", "x509:"}},
		{"not-tls", 502, []string{"variant not-tls did not answer in TLS"}},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			status, body := invokeVariant(t, srv.URL, "m", tc.variant)
			if status != tc.status {
				t.Fatalf("status %d, want %d; body %s", status, tc.status, body)
			}
			for _, w := range tc.body {
				if !strings.Contains(body, w) {
					t.Errorf("body %s, want it to contain %q", body, w)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "variant=insecure") {
		t.Errorf("want a warning for the insecure variant, logs:\n%s", logs.String())
	}
	if strings.Count(logs.String(), "certificate verification is disabled") != 1 {
		t.Errorf("want exactly one warning (only the insecure variant), logs:\n%s", logs.String())
	}
}
