package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

// gatewayUnderTest is a Glassbox server started in-process from a YAML
// config, exactly as 'glassbox serve' starts it.
type gatewayUnderTest struct {
	URL    string
	Data   string // folder of storage.blob
	stop   func() error
	closed bool
}

// serveInProcess runs 'glassbox serve' for cfg in this process, logging to
// logOut, and returns its address once it listens and a function that
// shuts it down gracefully and returns serve's error; calling it again
// returns the same result. Whatever the test does not stop is stopped at
// its end.
func serveInProcess(t *testing.T, cfg *config.Config, logOut io.Writer) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan string, 1)
	go func() { done <- serve(ctx, cfg, logOut, started) }()
	select {
	case addr = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() { cancel(); result = <-done })
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stop
}

// startGateway serves the endpoints YAML (the endpoints: section only) with
// a fresh data folder, and stops it at the end of the test.
func startGateway(t *testing.T, endpointsYAML string) *gatewayUnderTest {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	yaml := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  shutdown_timeout: 10s\nstorage:\n  blob: file://%s\n  spool: %s\nlog:\n  level: error\n%s",
		data, filepath.Join(dir, "spool"), endpointsYAML)
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	addr, stop := serveInProcess(t, cfg, io.Discard)
	g := &gatewayUnderTest{URL: "http://" + addr, Data: data, stop: stop}
	t.Cleanup(func() { g.Stop(t) })
	return g
}

// Stop shuts the gateway down gracefully and fails the test if that fails.
func (g *gatewayUnderTest) Stop(t *testing.T) {
	t.Helper()
	if g.closed {
		return
	}
	g.closed = true
	if err := g.stop(); err != nil {
		t.Errorf("serve returned %v", err)
	}
}

// Records stops the gateway (so every record is written) and returns the
// capture lines by object key.
func (g *gatewayUnderTest) Records(t *testing.T) map[string][]string {
	t.Helper()
	g.Stop(t)
	b, err := file.New(g.Data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	err = b.List(context.Background(), "", func(oi objstore.ObjectInfo) error {
		if strings.HasPrefix(oi.Key, "_digests/") { // tamper-evidence digests, not captures
			return nil
		}
		raw, err := os.ReadFile(filepath.Join(g.Data, filepath.FromSlash(oi.Key)))
		if err != nil {
			return err
		}
		for _, line := range strings.SplitAfter(string(raw), "\n") {
			if line != "" {
				out[oi.Key] = append(out[oi.Key], line)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lines flattens Records into a map from event id to line.
func byEventID(t *testing.T, recs map[string][]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, lines := range recs {
		for _, l := range lines {
			r, err := capture.DecodeRecord([]byte(l))
			if err != nil {
				t.Fatalf("DecodeRecord(%q): %v", l, err)
			}
			out[r.EventMetadata.EventID] = l
		}
	}
	return out
}

// model is a loopback model server whose handler a test chooses; it records
// the headers of the last request.
type model struct {
	URL     string
	mu      sync.Mutex
	lastReq *http.Request
	srv     *http.Server
}

func startTestModel(t *testing.T, h http.HandlerFunc) *model {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &model{URL: "http://" + ln.Addr().String()}
	m.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.lastReq = r.Clone(context.Background())
		m.mu.Unlock()
		h(w, r)
	})}
	go func() { _ = m.srv.Serve(ln) }()
	t.Cleanup(func() { _ = m.srv.Close() })
	return m
}

func (m *model) LastRequest() *http.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastReq
}

// echoModel answers with a fixed content type and the body it was given,
// prefixed by "out:".
func echoModel(contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(append([]byte("out:"), b...))
	}
}

func post(t *testing.T, url, contentType string, body []byte, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func endpointYAML(name, upstream, captureExtra string) string {
	return fmt.Sprintf(`endpoints:
  - name: %s
    tags: {owner: test, cost-center: cc-1}
    variants:
      - name: AllTraffic
        upstream: %s
    capture:
      sampling_percent: 100
      csv_content_types: [text/csv]
      json_content_types: [application/json]
%s`, name, upstream, captureExtra)
}

var keyLayout = regexp.MustCompile(`^([a-z0-9-]+)/([A-Za-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl$`)

// TestGateway_CaptureExactLines checks, byte for byte, the lines captured in
// strict mode (SageMaker's keys only) for CSV, JSON and binary payloads,
// with inference ids and custom attributes, and the object key layout.
func TestGateway_CaptureExactLines(t *testing.T) {
	m := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.Header.Get("Content-Type") {
		case "text/csv":
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			_, _ = w.Write([]byte("0.25\n"))
		case "application/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"score": 0.5, "note": "a<b & \"c\""}`))
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(append([]byte{0xff, 0x00}, b...))
		}
	})
	g := startGateway(t, endpointYAML("exact", m.URL, "      strict: true\n"))
	url := g.URL + "/endpoints/exact/invocations"

	type call struct {
		name       string
		ct         string
		body       []byte
		headers    map[string]string
		wantInput  string
		wantOutput string
		wantMeta   string // extra eventMetadata keys before inferenceTime
	}
	calls := []call{
		{
			name: "csv", ct: "text/csv", body: []byte("1,2.5,abc\n"),
			headers:    map[string]string{"X-Amzn-SageMaker-Inference-Id": "inf-42", "X-Amzn-SageMaker-Custom-Attributes": "tenant=acme"},
			wantInput:  `{"observedContentType":"text/csv","mode":"INPUT","data":"1,2.5,abc\n","encoding":"CSV"}`,
			wantOutput: `{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.25\n","encoding":"CSV"}`,
			wantMeta:   `"inferenceId":"inf-42","customAttributes":"tenant=acme",`,
		},
		{
			name: "json", ct: "application/json", body: []byte(`{"name": "Zoë", "x": [1, 2]}`),
			wantInput:  `{"observedContentType":"application/json","mode":"INPUT","data":"{\"name\": \"Zoë\", \"x\": [1, 2]}","encoding":"JSON"}`,
			wantOutput: `{"observedContentType":"application/json","mode":"OUTPUT","data":"{\"score\": 0.5, \"note\": \"a<b & \\\"c\\\"\"}","encoding":"JSON"}`,
		},
		{
			name: "binary", ct: "image/png", body: []byte{0x89, 'P', 'N', 'G', 0x00, 0xfe},
			headers:    map[string]string{"X-Amzn-SageMaker-Inference-Id": "img-1"},
			wantInput:  `{"observedContentType":"image/png","mode":"INPUT","data":"iVBORwD+","encoding":"BASE64"}`,
			wantOutput: `{"observedContentType":"application/octet-stream","mode":"OUTPUT","data":"/wCJUE5HAP4=","encoding":"BASE64"}`,
			wantMeta:   `"inferenceId":"img-1",`,
		},
	}
	ids := map[string]call{}
	before := time.Now().UTC().Truncate(time.Second)
	for _, c := range calls {
		resp, _ := post(t, url, c.ct, c.body, c.headers)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", c.name, resp.StatusCode)
		}
		if got := resp.Header.Get("X-Amzn-Invoked-Production-Variant"); got != "AllTraffic" {
			t.Errorf("%s: X-Amzn-Invoked-Production-Variant = %q, want AllTraffic", c.name, got)
		}
		id := resp.Header.Get("X-Glassbox-Event-Id")
		if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(id) {
			t.Fatalf("%s: X-Glassbox-Event-Id = %q, want a UUID", c.name, id)
		}
		ids[id] = c
	}
	after := time.Now().UTC()

	recs := g.Records(t)
	got := byEventID(t, recs)
	if len(got) != len(calls) {
		t.Fatalf("captured %d records, want %d", len(got), len(calls))
	}
	for id, c := range ids {
		line, ok := got[id]
		if !ok {
			t.Errorf("%s: no record with eventId %s", c.name, id)
			continue
		}
		r, _ := capture.DecodeRecord([]byte(line))
		ts, _ := r.Time()
		if ts.Before(before) || ts.After(after) {
			t.Errorf("%s: inferenceTime %s outside [%s, %s]", c.name, ts, before, after)
		}
		want := `{"captureData":{"endpointInput":` + c.wantInput + `,"endpointOutput":` + c.wantOutput +
			`},"eventMetadata":{"eventId":"` + id + `",` + c.wantMeta + `"inferenceTime":"` + r.EventMetadata.InferenceTime +
			`"},"eventVersion":"0"}` + "\n"
		if line != want {
			t.Errorf("%s: captured line\n got %s\nwant %s", c.name, line, want)
		}
	}
	for key, lines := range recs {
		mm := keyLayout.FindStringSubmatch(key)
		if mm == nil || mm[1] != "exact" || mm[2] != "AllTraffic" {
			t.Errorf("object key %q does not follow {endpoint}/{variant}/yyyy/mm/dd/HH/MM-SS-mmm-uuid.jsonl", key)
			continue
		}
		for _, l := range lines {
			r, _ := capture.DecodeRecord([]byte(l))
			ts, _ := r.Time()
			if hour := ts.UTC().Format("2006/01/02/15"); !strings.Contains(key, "/"+hour+"/") {
				t.Errorf("record at %s stored in %s, outside its hour folder", ts, key)
			}
		}
	}
}

// TestGateway_ErrorExchanges checks statuses and JSON errors for bad input
// and failing upstreams, and that error exchanges reaching a model are
// captured with their status.
func TestGateway_ErrorExchanges(t *testing.T) {
	failing := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"model exploded"}`))
	})
	slow := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String()
	ln.Close() // nothing listens here any more

	yaml := endpointYAML("failing", failing.URL, "") +
		strings.TrimPrefix(endpointYAML("slow", slow.URL, ""), "endpoints:\n") + "    timeout: 200ms\n" +
		strings.TrimPrefix(endpointYAML("down", downURL, ""), "endpoints:\n") +
		strings.TrimPrefix(endpointYAML("small", failing.URL, ""), "endpoints:\n") + "    max_body_bytes: 100\n"
	g := startGateway(t, yaml)

	tests := []struct {
		name       string
		path       string
		body       []byte
		headers    map[string]string
		wantStatus int
		wantCode   string // error.code of a gateway-made JSON error
		captured   bool
	}{
		{name: "model 500 passes through", path: "/endpoints/failing/invocations", body: []byte(`{}`), wantStatus: 500, captured: true},
		{name: "upstream timeout", path: "/endpoints/slow/invocations", body: []byte(`{}`), wantStatus: 504, wantCode: "timeout", captured: true},
		{name: "upstream down", path: "/endpoints/down/invocations", body: []byte(`{}`), wantStatus: 502, wantCode: "bad_gateway", captured: true},
		{name: "unknown endpoint", path: "/endpoints/nope/invocations", body: []byte(`{}`), wantStatus: 404, wantCode: "not_found"},
		{name: "body over limit", path: "/endpoints/small/invocations", body: bytes.Repeat([]byte("x"), 101), wantStatus: 413, wantCode: "too_large"},
		{name: "unknown target variant", path: "/endpoints/failing/invocations", body: []byte(`{}`),
			headers: map[string]string{"X-Amzn-SageMaker-Target-Variant": "Nope"}, wantStatus: 400, wantCode: "invalid"},
		{name: "bad inference id", path: "/endpoints/failing/invocations", body: []byte(`{}`),
			headers: map[string]string{"X-Amzn-SageMaker-Inference-Id": strings.Repeat("i", 65)}, wantStatus: 400, wantCode: "invalid"},
		{name: "unknown route", path: "/nowhere", body: nil, wantStatus: 404, wantCode: "not_found"},
	}
	wantCaptured := map[string]int{}
	for _, tt := range tests {
		resp, body := post(t, g.URL+tt.path, "application/json", tt.body, tt.headers)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status %d, want %d (body %s)", tt.name, resp.StatusCode, tt.wantStatus, body)
			continue
		}
		if tt.wantCode != "" {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tt.wantCode || e.Error.Message == "" {
				t.Errorf("%s: body %s, want a JSON error with code %q and a message", tt.name, body, tt.wantCode)
			}
		}
		if tt.captured {
			wantCaptured[resp.Header.Get("X-Glassbox-Event-Id")] = tt.wantStatus
		}
	}
	got := byEventID(t, g.Records(t))
	if len(got) != len(wantCaptured) {
		t.Errorf("captured %d records, want %d", len(got), len(wantCaptured))
	}
	for id, status := range wantCaptured {
		line, ok := got[id]
		if !ok {
			t.Errorf("exchange %s with status %d was not captured", id, status)
			continue
		}
		r, _ := capture.DecodeRecord([]byte(line))
		if r.Glassbox == nil || r.Glassbox.Status != status {
			t.Errorf("record %s: glassbox.status is not %d: %s", id, status, line)
		}
		if hasOutput := r.CaptureData.EndpointOutput != nil; hasOutput != (status < 502) {
			t.Errorf("record %s (status %d): endpointOutput present = %v", id, status, hasOutput)
		}
		if status >= 502 && r.Glassbox.Error == "" {
			t.Errorf("record %s (status %d): no glassbox.error", id, status)
		}
	}
}

// TestGateway_StreamingPassThrough shows that the client reads the first
// chunk of a streamed answer while the model is still writing, and that the
// capture holds the whole assembled stream.
func TestGateway_StreamingPassThrough(t *testing.T) {
	release := make(chan struct{})
	m := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.URL.RawQuery != "stream=true" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select { // the model finishes only after the client saw the first chunk
		case <-release:
		case <-time.After(10 * time.Second):
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	})
	g := startGateway(t, strings.Replace(endpointYAML("chat", m.URL, ""), "json_content_types: [application/json]", "json_content_types: [application/json, text/event-stream]", 1))

	req, _ := http.NewRequest(http.MethodPost, g.URL+"/endpoints/chat/proxy/v1/chat/completions?stream=true", strings.NewReader(`{"stream":true}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("data: first\n\n"))
	readDone := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, first); readDone <- err }()
	select {
	case err := <-readDone:
		if err != nil || string(first) != "data: first\n\n" {
			t.Fatalf("first chunk = %q, %v", first, err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the first chunk did not reach the client while the model was still streaming")
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "data: second\n\n" {
		t.Errorf("rest of stream = %q", rest)
	}
	id := resp.Header.Get("X-Glassbox-Event-Id")
	got := byEventID(t, g.Records(t))
	r, err := capture.DecodeRecord([]byte(got[id]))
	if err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	out := r.CaptureData.EndpointOutput
	if out == nil || out.Data != "data: first\n\ndata: second\n\n" || out.Encoding != "JSON" {
		t.Errorf("captured output = %+v, want the whole stream as text", out)
	}
	if r.Glassbox == nil || r.Glassbox.Path != "/v1/chat/completions" || r.Glassbox.Method != "POST" {
		t.Errorf("glassbox extra = %+v, want method POST and path /v1/chat/completions", r.Glassbox)
	}
}
