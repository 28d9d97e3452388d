package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/gateway"
)

// discardSink samples like the pipeline (policy only, no metrics) and drops
// every exchange at once, so the benchmark measures the gateway's own cost
// of capture: the tee, the buffers and building the Exchange.
type discardSink struct{ submitted atomic.Int64 }

func (s *discardSink) Sample(p *capture.Policy) bool {
	return p.Enabled && capture.Sample(p.SamplingPercent)
}

func (s *discardSink) Admit(*capture.Policy) error { return nil }

func (s *discardSink) Submit(_ context.Context, ex *capture.Exchange) error {
	s.submitted.Add(1)
	if ex.Release != nil {
		ex.Release()
	}
	return nil
}

// BenchmarkGateway_Invocation sends POST /endpoints/bench/invocations
// (200-byte JSON) through the gateway to an upstream answering 1 KiB of
// JSON, both on httptest servers. Allocations include the client and the
// upstream, which are the same in every sub-benchmark; compare deltas.
//
//	go test ./internal/gateway -run '^$' -bench Gateway_Invocation -benchmem
func BenchmarkGateway_Invocation(b *testing.B) {
	respBody := []byte(`{"predictions":[0.12,0.88],"pad":"` + strings.Repeat("x", 1024-36) + `"}`)
	reqBody := []byte(`{"instances":[{"features":[0.25,1.5,-3.75,42],"id":"` + strings.Repeat("a", 200-56) + `"}]}`)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(respBody)
	}))
	b.Cleanup(upstream.Close)
	up, err := url.Parse(upstream.URL)
	if err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name    string
		enabled bool
	}{
		{"capture=off", false},
		{"capture=on", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sink := &discardSink{}
			gw, err := gateway.New(gateway.Options{
				Endpoints: []gateway.Endpoint{{
					Name:     "bench",
					Variants: []gateway.Variant{{Name: "v1", Upstream: up, Weight: 1}},
					Capture: &capture.Policy{
						Endpoint:        "bench",
						Enabled:         bc.enabled,
						SamplingPercent: 100,
						Input:           true,
						Output:          true,
						ContentTypes:    capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"}),
					},
				}},
				Sink: sink,
			})
			if err != nil {
				b.Fatal(err)
			}
			front := httptest.NewServer(gw)
			defer front.Close()
			target := front.URL + "/endpoints/bench/invocations"
			tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
			defer tr.CloseIdleConnections()
			hdr := http.Header{"Content-Type": {"application/json"}}

			b.SetBytes(int64(len(reqBody) + len(respBody)))
			b.ReportAllocs()
			b.SetParallelism(4) // 4×GOMAXPROCS requests in flight
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 4<<10)
				for pb.Next() {
					req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(reqBody))
					if err != nil {
						b.Error(err)
						return
					}
					req.Header = hdr
					resp, err := tr.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.ReadFull(resp.Body, buf)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || n != len(respBody) {
						b.Errorf("status %d, %d body bytes", resp.StatusCode, n)
						return
					}
				}
			})
			b.StopTimer()
			if got := sink.submitted.Load(); bc.enabled && got == 0 {
				b.Fatal("capture on, but nothing was submitted")
			} else if !bc.enabled && got != 0 {
				b.Fatalf("capture off, but %d exchanges were submitted", got)
			}
		})
	}
}
