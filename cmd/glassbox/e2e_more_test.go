package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

// TestGateway_AWSSDKClient drives the gateway with the unmodified AWS SDK
// for Go v2 sagemakerruntime client: its SigV4-signed request is accepted,
// the signature is not forwarded to the model, and the response fields the
// SDK reads come back.
func TestGateway_AWSSDKClient(t *testing.T) {
	m := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("X-Amzn-SageMaker-Custom-Attributes", "model-said=hi")
		fmt.Fprintf(w, "scored:%s", b)
	})
	yaml := strings.Replace(endpointYAML("churn", m.URL, ""), "      - name: AllTraffic\n        upstream: "+m.URL+"\n",
		"      - name: Blue\n        upstream: "+m.URL+"\n      - name: Green\n        upstream: "+m.URL+"\n", 1)
	g := startGateway(t, yaml)

	client := sagemakerruntime.New(sagemakerruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(g.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	out, err := client.InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{
		EndpointName:     aws.String("churn"),
		Body:             []byte("1,2,3"),
		ContentType:      aws.String("text/csv"),
		Accept:           aws.String("text/csv"),
		CustomAttributes: aws.String("tenant=acme"),
		InferenceId:      aws.String("sdk-call-1"),
		TargetVariant:    aws.String("Green"),
	})
	if err != nil {
		t.Fatalf("InvokeEndpoint: %v", err)
	}
	if string(out.Body) != "scored:1,2,3" {
		t.Errorf("Body = %q, want scored:1,2,3", out.Body)
	}
	if got := aws.ToString(out.InvokedProductionVariant); got != "Green" {
		t.Errorf("InvokedProductionVariant = %q, want Green (the target variant)", got)
	}
	if got := aws.ToString(out.ContentType); got != "text/csv" {
		t.Errorf("ContentType = %q", got)
	}
	if got := aws.ToString(out.CustomAttributes); got != "model-said=hi" {
		t.Errorf("CustomAttributes = %q", got)
	}
	seen := m.LastRequest()
	if seen.URL.Path != "/invocations" {
		t.Errorf("model saw path %q, want /invocations", seen.URL.Path)
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		if v := seen.Header.Get(h); v != "" {
			t.Errorf("model received %s: %q; AWS credentials must not be forwarded", h, v)
		}
	}
	if got := seen.Header.Get("X-Amzn-SageMaker-Custom-Attributes"); got != "tenant=acme" {
		t.Errorf("model saw custom attributes %q, want tenant=acme", got)
	}

	// An unknown endpoint surfaces as an SDK error, not a hang or a panic.
	_, err = client.InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{
		EndpointName: aws.String("missing"), Body: []byte("1"), ContentType: aws.String("text/csv"),
	})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("InvokeEndpoint(missing) error = %v, want a 404", err)
	}

	recs := g.Records(t)
	if len(recs) != 1 {
		t.Fatalf("objects = %v, want one under churn/Green/", recs)
	}
	for key, lines := range recs {
		if !strings.HasPrefix(key, "churn/Green/") || len(lines) != 1 {
			t.Fatalf("object %s with %d lines, want churn/Green/... with 1", key, len(lines))
		}
		r, _ := capture.DecodeRecord([]byte(lines[0]))
		if r.EventMetadata.InferenceID != "sdk-call-1" || r.EventMetadata.CustomAttributes != "tenant=acme" {
			t.Errorf("eventMetadata = %+v", r.EventMetadata)
		}
	}
}

// TestGateway_Sampling checks that sampling keeps a share of requests
// within a bound that a correct sampler misses with probability < 1e-8, and
// that every request is counted as sampled or sampled out.
func TestGateway_Sampling(t *testing.T) {
	m := startTestModel(t, echoModel("text/csv"))
	const n, pct = 2000, 30.0
	g := startGateway(t, strings.Replace(endpointYAML("sampled", m.URL, ""), "sampling_percent: 100", fmt.Sprintf("sampling_percent: %v", pct), 1))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := http.Post(g.URL+"/endpoints/sampled/invocations", "text/csv", strings.NewReader("1,2"))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	metrics := scrape(t, g.URL)
	got := len(byEventID(t, g.Records(t)))
	mean := n * pct / 100
	sd := math.Sqrt(n * pct / 100 * (1 - pct/100))
	if math.Abs(float64(got)-mean) > 6*sd {
		t.Errorf("captured %d of %d at %v%%, want %.0f ± %.0f", got, n, pct, mean, 6*sd)
	}
	sampled := metricValue(t, metrics, `glassbox_capture_sampled_total{endpoint="sampled"}`)
	out := metricValue(t, metrics, `glassbox_capture_sampled_out_total{endpoint="sampled"}`)
	if int(sampled) != got || int(sampled+out) != n {
		t.Errorf("sampled=%v sampled_out=%v, want %d and a sum of %d", sampled, out, got, n)
	}
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	t.Fatalf("metric %s not found", series)
	return 0
}

// TestGateway_ModesTruncationMetrics covers input-only capture, payload
// truncation and the metrics and health endpoints.
func TestGateway_ModesTruncationMetrics(t *testing.T) {
	m := startTestModel(t, echoModel("application/json"))
	yaml := strings.Replace(endpointYAML("inonly", m.URL, "      max_payload_bytes: 8\n"), "sampling_percent: 100", "sampling_percent: 100\n      modes: [input]", 1)
	g := startGateway(t, yaml)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(g.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	resp, body := post(t, g.URL+"/endpoints/inonly/invocations", "application/json", []byte(`{"a":"0123456789"}`), nil)
	if resp.StatusCode != 200 || string(body) != `out:{"a":"0123456789"}` {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	metrics := scrape(t, g.URL)
	for _, want := range []string{
		`glassbox_gateway_requests_total{code="200",endpoint="inonly",variant="AllTraffic"} 1`,
		`glassbox_gateway_request_duration_seconds_count{code="200",endpoint="inonly",variant="AllTraffic"} 1`,
		`glassbox_capture_sampled_total{endpoint="inonly"} 1`,
		`glassbox_capture_queue_records`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	got := byEventID(t, g.Records(t))
	r, _ := capture.DecodeRecord([]byte(got[resp.Header.Get("X-Glassbox-Event-Id")]))
	if r == nil {
		t.Fatal("record not captured")
	}
	if r.CaptureData.EndpointOutput != nil {
		t.Errorf("input-only endpoint captured an output: %+v", r.CaptureData.EndpointOutput)
	}
	in := r.CaptureData.EndpointInput
	if in == nil || in.Data != `{"a":"01` || !r.Glassbox.InputTruncated || r.Glassbox.InputBytes != 18 {
		t.Errorf("input = %+v, extra = %+v; want the first 8 bytes, truncated, input_bytes 18", in, r.Glassbox)
	}
}

// TestServe_GracefulShutdownLosesNothing runs the real binary under load,
// sends SIGTERM while requests are in flight, and checks that every request
// answered 200 has its record on disk and that the process exits 0.
func TestServe_GracefulShutdownLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "glassbox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	m := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // keep requests in flight at SIGTERM
		echoModel("text/csv")(w, r)
	})
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf("server:\n  listen: 127.0.0.1:%d\nstorage:\n  blob: file://%s/data\n  spool: %s/spool\n%s",
		port, dir, dir, strings.Replace(endpointYAML("term", m.URL, ""), "sampling_percent: 100", "sampling_percent: 100\n      max_object_seconds: 3600", 1))
	cfgPath := filepath.Join(dir, "glassbox.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitReady(t, base)

	var mu sync.Mutex
	var ok []string
	var wg sync.WaitGroup
	stopSending := make(chan struct{})
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopSending:
					return
				default:
				}
				resp, err := http.Post(base+"/endpoints/term/invocations", "text/csv", strings.NewReader(fmt.Sprintf("%d", i)))
				if err != nil {
					return // the server stopped accepting
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					ok = append(ok, resp.Header.Get("X-Glassbox-Event-Id"))
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("glassbox exited with %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("glassbox did not exit after SIGTERM\n%s", logs.String())
	}
	close(stopSending)
	wg.Wait()
	if len(ok) < 50 {
		t.Fatalf("only %d requests succeeded before SIGTERM; the test proves nothing", len(ok))
	}
	g := &gatewayUnderTest{Data: filepath.Join(dir, "data"), closed: true}
	got := byEventID(t, g.Records(t))
	missing := 0
	for _, id := range ok {
		if _, found := got[id]; !found {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered requests have no capture record after SIGTERM\n%s", missing, len(ok), logs.String())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", base)
}
