package gateway_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/gateway"
)

// recordingSink keeps every submitted exchange.
type recordingSink struct {
	mu  sync.Mutex
	got []*capture.Exchange
}

func (s *recordingSink) Sample(p *capture.Policy) bool { return p.Enabled }

func (s *recordingSink) Admit(*capture.Policy) error { return nil }

func (s *recordingSink) Submit(_ context.Context, ex *capture.Exchange) error {
	cp := *ex
	cp.Input = append([]byte(nil), ex.Input...)
	cp.Output = append([]byte(nil), ex.Output...)
	if ex.Release != nil {
		ex.Release()
	}
	s.mu.Lock()
	s.got = append(s.got, &cp)
	s.mu.Unlock()
	return nil
}

func (s *recordingSink) exchanges() []*capture.Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*capture.Exchange(nil), s.got...)
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func policy(name string) *capture.Policy {
	return &capture.Policy{Endpoint: name, Enabled: true, SamplingPercent: 100, Input: true, Output: true,
		ContentTypes: capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"})}
}

func newGateway(t *testing.T, sink gateway.Sink, eps ...gateway.Endpoint) *httptest.Server {
	t.Helper()
	g, err := gateway.New(gateway.Options{Endpoints: eps, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func TestGateway_WeightedVariants(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	u := mustURL(t, up.URL)
	srv := newGateway(t, nil, gateway.Endpoint{Name: "w", Variants: []gateway.Variant{
		{Name: "a", Upstream: u, Weight: 3}, {Name: "b", Upstream: u, Weight: 1}, {Name: "off", Upstream: u, Weight: 0},
	}})
	const n = 2000
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		resp, err := http.Post(srv.URL+"/endpoints/w/invocations", "text/csv", strings.NewReader("1"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		counts[resp.Header.Get(gateway.HeaderInvokedVariant)]++
	}
	if counts["off"] != 0 {
		t.Errorf("weight-0 variant got %d requests", counts["off"])
	}
	// b ~ Binomial(n, 1/4): mean 500, sd ~19.4; 6 sd cannot flake in practice.
	if d := math.Abs(float64(counts["b"]) - n/4.0); d > 6*math.Sqrt(n*0.25*0.75) {
		t.Errorf("variant b got %d of %d requests, want about %d", counts["b"], n, n/4)
	}
	// A zero-weight variant still answers when targeted explicitly.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/endpoints/w/invocations", strings.NewReader("1"))
	req.Header.Set(gateway.HeaderTargetVariant, "off")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(gateway.HeaderInvokedVariant); got != "off" {
		t.Errorf("targeted variant = %q, want off", got)
	}
}

func TestGateway_ApplyKeepsOldOnError(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "v1") }))
	defer up.Close()
	g, err := gateway.New(gateway.Options{Endpoints: []gateway.Endpoint{{Name: "a", Variants: []gateway.Variant{{Name: "v", Upstream: mustURL(t, up.URL), Weight: 1}}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	bad := []gateway.Endpoint{{Name: "b", Variants: []gateway.Variant{{Name: "v", Upstream: &url.URL{}, Weight: 1}}}}
	if err := g.Apply(bad); err == nil {
		t.Fatal("Apply with an upstream without host succeeded")
	}
	if err := g.Apply([]gateway.Endpoint{{Name: "c", Variants: []gateway.Variant{{Name: "v", Upstream: mustURL(t, up.URL), Weight: 0}}}}); err == nil {
		t.Fatal("Apply with only zero weights succeeded")
	}
	resp, err := http.Post(srv.URL+"/endpoints/a/invocations", "text/csv", strings.NewReader("1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after a refused Apply, endpoint a answers %d, want 200", resp.StatusCode)
	}
	// A valid Apply takes effect at once: a disappears, c appears.
	if err := g.Apply([]gateway.Endpoint{{Name: "c", Variants: []gateway.Variant{{Name: "v", Upstream: mustURL(t, up.URL), Weight: 1}}}}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/endpoints/a/invocations": 404, "/endpoints/c/invocations": 200} {
		resp, err := http.Post(srv.URL+path, "text/csv", strings.NewReader("1"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestGateway_UpstreamDiesMidBody checks that a response cut off by the
// model is still captured, marked with an error, and does not crash the
// gateway.
func TestGateway_UpstreamDiesMidBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer up.Close()
	sink := &recordingSink{}
	srv := newGateway(t, sink, gateway.Endpoint{Name: "cut", Capture: policy("cut"),
		Variants: []gateway.Variant{{Name: "v", Upstream: mustURL(t, up.URL), Weight: 1}}})
	resp, err := http.Post(srv.URL+"/endpoints/cut/invocations", "text/csv", strings.NewReader("1,2"))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("client read a cut-off response without error")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.exchanges()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := sink.exchanges()
	if len(got) != 1 {
		t.Fatalf("captured %d exchanges, want 1", len(got))
	}
	if got[0].Error == "" || string(got[0].Output) != "partial" || string(got[0].Input) != "1,2" {
		t.Errorf("exchange = status %d error %q output %q input %q; want the partial output and an error", got[0].Status, got[0].Error, got[0].Output, got[0].Input)
	}
	// The gateway still serves.
	resp, err = http.Post(srv.URL+"/endpoints/nope/invocations", "text/csv", strings.NewReader("1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestGateway_MethodNotAllowed(t *testing.T) {
	srv := newGateway(t, nil)
	resp, err := http.Get(srv.URL + "/endpoints/x/invocations")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET invocations = %d (Allow %q), want 405 with Allow: POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestGateway_ProxyForwardsEverything checks the pass-through route keeps
// method, path, query and headers, and sends the body unchanged.
func TestGateway_ProxyForwardsEverything(t *testing.T) {
	var seen *http.Request
	var body string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Clone(context.Background())
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.WriteHeader(http.StatusCreated)
	}))
	defer up.Close()
	srv := newGateway(t, nil, gateway.Endpoint{Name: "kserve",
		Variants: []gateway.Variant{{Name: "v", Upstream: mustURL(t, up.URL+"/base"), Weight: 1}}})
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/endpoints/kserve/proxy/v2/models/m/infer?x=1&y=a%2Fb", strings.NewReader(`{"inputs":[]}`))
	req.Header.Set("Authorization", "Bearer model-key")
	req.Header.Set("X-Custom", "yes")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201 from the model", resp.StatusCode)
	}
	if seen.Method != http.MethodPut || seen.URL.Path != "/base/v2/models/m/infer" || seen.URL.RawQuery != "x=1&y=a%2Fb" {
		t.Errorf("model saw %s %s?%s", seen.Method, seen.URL.Path, seen.URL.RawQuery)
	}
	if seen.Header.Get("Authorization") != "Bearer model-key" || seen.Header.Get("X-Custom") != "yes" || body != `{"inputs":[]}` {
		t.Errorf("model saw headers %v body %q", seen.Header, body)
	}
}

// TestGateway_ChunkedBodyOverLimit checks that a request body larger than the
// limit is refused with 413 even without a Content-Length header.
func TestGateway_ChunkedBodyOverLimit(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	srv := newGateway(t, nil, gateway.Endpoint{Name: "e", MaxBodyBytes: 10,
		Variants: []gateway.Variant{{Name: "v", Upstream: mustURL(t, up.URL), Weight: 1}}})
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(strings.Repeat("x", 64)))
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/endpoints/e/invocations", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 64-byte body with a 10-byte limit: status %d, want 413", resp.StatusCode)
	}
}
