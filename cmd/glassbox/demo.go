package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

func newDemoCommand() *cobra.Command {
	var dir, listen string
	var requests int
	var keep bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a built-in loan-approval model behind the gateway, send it traffic, show the captures",
		Long: `Start a small loan-approval scorer (two variants: champion and challenger)
behind the Glassbox gateway on loopback, send it a mix of CSV and JSON
requests, shut down cleanly so every record is written, and print where the
captured records are and how to look at them. Needs no external service:
captures go to a local folder (DIR/data), in SageMaker's Data Capture layout.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if requests < 0 {
				return usagef("--requests must be >= 0")
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, c.OutOrStdout(), dir, listen, requests, keep)
		},
	}
	c.Flags().StringVar(&dir, "dir", "glassbox-demo", "folder for the demo's config and captured data")
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "gateway listen address (port 0 picks a free one)")
	c.Flags().IntVarP(&requests, "requests", "n", 200, "number of requests to send")
	c.Flags().BoolVar(&keep, "keep-running", false, "keep the gateway and model running after the traffic, until Ctrl-C")
	return c
}

const demoEndpoint = "loan-scorer"

func runDemo(ctx context.Context, out io.Writer, dir, listen string, requests int, keep bool) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(absDir, 0o750); err != nil {
		return fmt.Errorf("create demo folder: %w", err)
	}
	champion, stopA, err := startModel(loanModel{})
	if err != nil {
		return err
	}
	defer stopA()
	challenger, stopB, err := startModel(loanModel{bias: -0.3})
	if err != nil {
		return err
	}
	defer stopB()

	cfgPath := filepath.Join(absDir, "glassbox.yaml")
	cfgText := fmt.Sprintf(`# Written by 'glassbox demo'. The model ports were picked for that run only;
# storage.blob is where the demo's captures are.
server:
  listen: %q
storage:
  blob: %q
  spool: %q
log:
  level: warn
endpoints:
  - name: %s
    tags: {owner: demo-team, cost-center: cc-demo}
    variants:
      - name: champion
        upstream: %s
        weight: 9
      - name: challenger
        upstream: %s
        weight: 1
    capture:
      sampling_percent: 100
      modes: [input, output]
      csv_content_types: [text/csv]
      json_content_types: [application/json]
      durability: async
      max_object_seconds: 60
`, listen, "file://"+filepath.Join(absDir, "data"), filepath.Join(absDir, "spool"), demoEndpoint, champion, challenger)
	cfg, err := config.Parse([]byte(cfgText))
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o640); err != nil {
		return fmt.Errorf("write demo config: %w", err)
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan string, 1)
	done := make(chan error, 1)
	var serverOut syncBuffer // warnings and, on a fresh store, the bootstrap token
	go func() { done <- serve(sctx, cfg, &serverOut, started) }()
	var addr string
	select {
	case addr = <-started:
	case err := <-done:
		return err
	}
	base := "http://" + addr
	fmt.Fprintf(out, "Glassbox gateway on %s, model %q with variants champion (%s) and challenger (%s)\n",
		base, demoEndpoint, champion, challenger)

	sent, byVariant, byStatus, lastID, err := sendDemoTraffic(ctx, base, requests)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Sent %d requests: %s; statuses %s\n", sent, formatCounts(byVariant), formatCounts(byStatus))

	if keep {
		fmt.Fprintf(out, "\nTry it yourself (Ctrl-C to stop and write the captures):\n"+
			"  curl -s -H 'Content-Type: text/csv' --data '52000,15000,710,4' %s/endpoints/%s/invocations\n"+
			"  curl -s %s/metrics | grep glassbox_capture\n", base, demoEndpoint, base)
		<-ctx.Done()
	}
	cancel() // graceful shutdown: in-flight requests finish, the queue is written
	if err := <-done; err != nil {
		return err
	}

	bucket, err := openBucket(context.Background(), cfg.Storage.Blob, cfg.Storage.S3)
	if err != nil {
		return err
	}
	var objects []objstore.ObjectInfo
	if err := bucket.List(context.Background(), demoEndpoint+"/", func(oi objstore.ObjectInfo) error {
		objects = append(objects, oi)
		return nil
	}); err != nil {
		return err
	}
	records := 0
	if err := (&capture.Reader{Bucket: bucket}).Scan(context.Background(), capture.Filter{Endpoint: demoEndpoint}, func(string, *capture.Record) error {
		records++
		return nil
	}); err != nil {
		return err
	}
	self := "go run ./cmd/glassbox"
	if exe, err := os.Executable(); err == nil && !strings.Contains(exe, "go-build") {
		self = exe // a built binary, not a temporary one from 'go run'
	}
	fmt.Fprintf(out, "\nCaptured %d records in %d objects under %s:\n", records, len(objects), bucket.String())
	for i, oi := range objects {
		if i == 5 {
			fmt.Fprintf(out, "  ... and %d more\n", len(objects)-5)
			break
		}
		fmt.Fprintf(out, "  %s (%d bytes)\n", oi.Key, oi.Size)
	}
	fmt.Fprintf(out, "\nLook at them:\n"+
		"  %[1]s captures list --config %[2]s --endpoint %[3]s\n"+
		"  %[1]s captures get --config %[2]s %[4]s\n"+
		"  head -n 1 %[5]s   # one raw line, SageMaker's Data Capture format\n",
		self, cfgPath, demoEndpoint, lastID, filepath.Join(absDir, "data", filepath.FromSlash(firstKey(objects))))
	if tok := bootstrapLine(serverOut.String()); tok != "" {
		fmt.Fprintf(out, "\nThe control-plane API (/api/v1) of '%s serve --config %s' accepts this admin token,\ncreated for the demo's fresh metadata store and shown only now:\n  %s\n", self, cfgPath, tok)
	}
	return nil
}

func firstKey(objs []objstore.ObjectInfo) string {
	if len(objs) == 0 {
		return ""
	}
	return objs[0].Key
}

// sendDemoTraffic sends n requests: mostly valid CSV and JSON applicants,
// some with inference ids and custom attributes, and a few malformed ones
// that the model rejects (error exchanges are captured too).
func sendDemoTraffic(ctx context.Context, base string, n int) (sent int, byVariant, byStatus map[string]int, lastID string, err error) {
	byVariant, byStatus = map[string]int{}, map[string]int{}
	client := &http.Client{Timeout: 10 * time.Second}
	rng := rand.New(rand.NewPCG(42, 7))
	url := base + "/endpoints/" + demoEndpoint + "/invocations"
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		income := 20000 + rng.Float64()*130000
		loan := 2000 + rng.Float64()*60000
		credit := 480 + rng.Float64()*370
		years := rng.Float64() * 25
		var body, ct string
		switch {
		case i%50 == 49:
			body, ct = `{"income": "lots"}`, "application/json" // rejected by the model
		case i%2 == 0:
			body, ct = fmt.Sprintf("%.0f,%.0f,%.0f,%.1f", income, loan, credit, years), "text/csv"
		default:
			body = fmt.Sprintf(`{"income": %.0f, "loan_amount": %.0f, "credit_score": %.0f, "years_employed": %.1f}`, income, loan, credit, years)
			ct = "application/json"
		}
		req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
		if rerr != nil {
			return sent, byVariant, byStatus, lastID, rerr
		}
		req.Header.Set("Content-Type", ct)
		if i%3 == 0 {
			req.Header.Set("X-Amzn-SageMaker-Inference-Id", fmt.Sprintf("loan-%06d", i))
		}
		if i%4 == 0 {
			req.Header.Set("X-Amzn-SageMaker-Custom-Attributes", "channel=web")
		}
		resp, derr := client.Do(req)
		if derr != nil {
			return sent, byVariant, byStatus, lastID, fmt.Errorf("demo request %d: %w", i, derr)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sent++
		byVariant[resp.Header.Get("X-Amzn-Invoked-Production-Variant")]++
		byStatus[fmt.Sprint(resp.StatusCode)]++
		lastID = resp.Header.Get("X-Glassbox-Event-Id")
	}
	return sent, byVariant, byStatus, lastID, nil
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while
// the demo reads it at the end.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bootstrapLine finds the bootstrap admin token in the server's output.
func bootstrapLine(out string) string {
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "gbx_") {
			return f
		}
	}
	return ""
}
