package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/internal/objstore/s3"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

// These tests run the real glassbox binary (built once per test binary)
// against loopback model servers and check the durability promises of
// docs/config.md#durability: a 2xx from a sync endpoint means its record
// reaches the blob store exactly once, whatever happens to the process, the
// blob store or the spool folder afterwards.

// ---- the binary ----

const binDirPrefix = "glassbox-durability-bin-"

var builtGlassbox struct {
	once sync.Once
	path string
	err  error
}

// glassboxBinary skips under -short, and otherwise builds ./cmd/glassbox
// once per test binary and returns the path of the executable. The build
// lives in a temporary folder that outlives the tests (there is no hook after
// the last one); folders left by runs more than a day old are removed.
func glassboxBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds and runs the glassbox binary")
	}
	builtGlassbox.once.Do(func() {
		pruneOldBuilds()
		dir, err := os.MkdirTemp("", binDirPrefix)
		if err != nil {
			builtGlassbox.err = err
			return
		}
		bin := filepath.Join(dir, "glassbox")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			builtGlassbox.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		builtGlassbox.path = bin
	})
	if builtGlassbox.err != nil {
		t.Fatal(builtGlassbox.err)
	}
	return builtGlassbox.path
}

func pruneOldBuilds() {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, dir := range old {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > 24*time.Hour {
			_ = os.RemoveAll(dir)
		}
	}
}

// ---- a running glassbox process ----

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// glassboxProc is one `glassbox serve` process listening on a port the
// kernel chose (--listen 127.0.0.1:0); its address is read from its log.
type glassboxProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *lockedBuffer
	Base string // http://127.0.0.1:PORT once serving
	done chan struct{}
	werr error // cmd.Wait's result, set before done is closed
}

var servingLine = regexp.MustCompile(`msg="glassbox serving".* addr=(127\.0\.0\.1:\d+)`)

// launchGlassbox starts `glassbox serve --config cfgPath`; the process is
// killed when the test ends if it is still running.
func launchGlassbox(t *testing.T, bin, cfgPath string) *glassboxProc {
	t.Helper()
	p := &glassboxProc{t: t, logs: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.werr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Kill)
	return p
}

// startGlassbox launches glassbox and waits until it serves and is ready.
func startGlassbox(t *testing.T, bin, cfgPath string) *glassboxProc {
	t.Helper()
	p := launchGlassbox(t, bin, cfgPath)
	deadline := time.Now().Add(15 * time.Second)
	for p.Base == "" {
		if m := servingLine.FindStringSubmatch(p.logs.String()); m != nil {
			p.Base = "http://" + m[1]
			break
		}
		select {
		case <-p.done:
			t.Fatalf("glassbox exited before serving: %v\n%s", p.werr, p.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("glassbox did not start serving within 15s\n%s", p.logs)
		}
	}
	waitReady(t, p.Base)
	return p
}

// Wait waits up to d for the process to exit and reports whether it did
// and how.
func (p *glassboxProc) Wait(d time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.werr
	case <-time.After(d):
		return false, nil
	}
}

// Kill sends SIGKILL (if the process still runs) and waits for the exit.
func (p *glassboxProc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Terminate sends SIGTERM and fails the test unless the process exits 0
// within d.
func (p *glassboxProc) Terminate(d time.Duration) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	exited, err := p.Wait(d)
	if !exited {
		p.Kill()
		p.t.Fatalf("glassbox did not exit within %s of SIGTERM\n%s", d, p.logs)
	}
	if err != nil {
		p.t.Fatalf("glassbox exited with %v after SIGTERM\n%s", err, p.logs)
	}
}

func (p *glassboxProc) Invocations(endpoint string) string {
	return p.Base + "/endpoints/" + endpoint + "/invocations"
}

var recoveredLine = regexp.MustCompile(`msg="spool: uploading records left by a previous run".* records=(\d+)`)

// recoveredRecords returns how many records p found in its spool at start
// (from its log; 0 when it found none).
func recoveredRecords(p *glassboxProc) int {
	m := recoveredLine.FindStringSubmatch(p.logs.String())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// ---- requests, metrics, records ----

// reply is what a client got for one request. err is set when no status
// line arrived (connection refused, reset, timeout).
type reply struct {
	status int
	id     string
	ctype  string
	body   []byte
	err    error
}

func (r reply) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// invoke posts a CSV body and never fails the test, so goroutines may call
// it. A 2xx counts even if the body is then cut short: the status line is
// sent only once the record is durable.
func invoke(c *http.Client, url, body string) reply {
	resp, err := c.Post(url, "text/csv", strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, id: resp.Header.Get("X-Glassbox-Event-Id"),
		ctype: resp.Header.Get("Content-Type"), body: b}
}

func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

// metricSum sums the series of a metric whose labels include every one of
// labels (e.g. `endpoint="bulk"`); 0 when there is none.
func metricSum(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (!strings.HasPrefix(rest, "{") && !strings.HasPrefix(rest, " ")) {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		series := rest[:i]
		match := true
		for _, l := range labels {
			match = match && strings.Contains(series, l)
		}
		if v, err := strconv.ParseFloat(rest[i+1:], 64); err == nil && match {
			sum += v
		}
	}
	return sum
}

// waitMetrics scrapes p until cond holds or d passes; it returns the last
// scrape and whether cond held.
func waitMetrics(t *testing.T, p *glassboxProc, d time.Duration, cond func(metrics string) bool) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m := scrape(t, p.Base)
		if cond(m) {
			return m, true
		}
		if time.Now().After(deadline) {
			return m, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// capturedRecord is what the blob store holds for one event id.
type capturedRecord struct {
	copies   int
	endpoint string
	input    string
}

// readCaptures reads every capture record of a bucket, by event id.
func readCaptures(t *testing.T, b objstore.Bucket) (map[string]*capturedRecord, int) {
	t.Helper()
	out := map[string]*capturedRecord{}
	total := 0
	r := &capture.Reader{Bucket: b}
	err := r.Scan(context.Background(), capture.Filter{}, func(key string, rec *capture.Record) error {
		total++
		id := rec.EventMetadata.EventID
		c := out[id]
		if c == nil {
			c = &capturedRecord{}
			out[id] = c
		}
		c.copies++
		c.endpoint, _, _ = strings.Cut(key, "/")
		if in := rec.CaptureData.EndpointInput; in != nil {
			c.input = in.Data
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read captures from %s: %v", b, err)
	}
	return out, total
}

// checkExactlyOnce fails the test for every id of want that is not stored
// exactly once, and for any record stored more than once.
func checkExactlyOnce(t *testing.T, got map[string]*capturedRecord, want map[string]string, what string) {
	t.Helper()
	missing, dup := 0, 0
	for id, body := range want {
		c := got[id]
		switch {
		case c == nil:
			missing++
			if missing <= 5 {
				t.Errorf("%s: event %s (body %.40q) answered 2xx but has no capture record", what, id, body)
			}
		case c.copies != 1:
			t.Errorf("%s: event %s answered 2xx and is stored %d times", what, id, c.copies)
		case body != "" && c.input != body:
			t.Errorf("%s: event %s stored with input %.40q, want %.40q", what, id, c.input, body)
		}
	}
	for id, c := range got {
		if c.copies > 1 {
			dup++
			if dup <= 5 {
				t.Errorf("event %s is stored %d times", id, c.copies)
			}
		}
	}
	if missing > 0 || dup > 0 {
		t.Errorf("%s: %d of %d answered events missing, %d event ids stored more than once", what, missing, len(want), dup)
	}
}

func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "glassbox.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// moreEndpoints strips the "endpoints:" line so endpointYAML outputs can be
// concatenated.
func moreEndpoints(yaml string) string { return strings.TrimPrefix(yaml, "endpoints:\n") }

// checkJSONError fails the test unless r is a 503 with a JSON error of code
// "unavailable" whose message contains one of hints.
func checkJSONError(t *testing.T, r reply, hints ...string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if r.status != http.StatusServiceUnavailable || !strings.HasPrefix(r.ctype, "application/json") ||
		json.Unmarshal(r.body, &e) != nil || e.Error.Code != "unavailable" {
		t.Errorf("got %d %s %s, want 503 with a JSON error of code unavailable", r.status, r.ctype, r.body)
		return
	}
	for _, h := range hints {
		if strings.Contains(e.Error.Message, h) {
			return
		}
	}
	t.Errorf("503 message %q says none of %q", e.Error.Message, hints)
}

// ---- tests ----

// TestServe_CrashLosesNothing SIGKILLs a sync endpoint's gateway at random
// moments under concurrent load, restarts it each time, and finally stops it
// gracefully: every request that was answered 2xx has exactly one capture
// record, and no record is stored twice.
func TestServe_CrashLosesNothing(t *testing.T) {
	bin := glassboxBinary(t)
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	data, spool := filepath.Join(dir, "data"), filepath.Join(dir, "spool")
	cfg := writeConfig(t, dir, fmt.Sprintf(`server:
  shutdown_timeout: 20s
storage:
  blob: file://%s
  spool: %s
  spool_fsync_interval: 10ms
log:
  level: info
%s`, data, spool, endpointYAML("crash", m.URL, "      durability: sync\n      max_object_seconds: 1\n")))

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GLASSBOX_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d (set GLASSBOX_TEST_SEED to repeat)", seed)

	const cycles, clients = 5, 16
	var (
		mu       sync.Mutex
		answered = map[string]string{} // event id of a 2xx -> body
		noAnswer int
		other    = map[int]int{} // non-2xx statuses
	)
	var delays []time.Duration
	var recovered []int // records each restart found in the spool
	torn := 0.0
	for cycle := range cycles {
		p := startGlassbox(t, bin, cfg)
		torn += metricValue(t, scrape(t, p.Base), "glassbox_spool_torn_records_discarded_total")
		if cycle > 0 {
			recovered = append(recovered, recoveredRecords(p))
		}
		client := newClient()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Sprintf("%d,%d,%d", cycle, w, i)
					r := invoke(client, p.Invocations("crash"), body)
					mu.Lock()
					switch {
					case r.ok():
						answered[r.id] = body
					case r.err != nil:
						noAnswer++
					default:
						other[r.status]++
					}
					mu.Unlock()
				}
			}()
		}
		delay := time.Duration(100+rng.IntN(501)) * time.Millisecond
		delays = append(delays, delay)
		time.Sleep(delay)
		p.Kill()
		close(stop)
		wg.Wait()
		client.CloseIdleConnections()
	}

	// A last start recovers what the last kill left; SIGTERM uploads it all.
	p := startGlassbox(t, bin, cfg)
	final := scrape(t, p.Base)
	torn += metricValue(t, final, "glassbox_spool_torn_records_discarded_total")
	recovered = append(recovered, recoveredRecords(p))
	p.Terminate(30 * time.Second)
	if segs, _ := filepath.Glob(filepath.Join(spool, "segments", "*.seg")); len(segs) > 0 {
		t.Errorf("after a graceful stop the spool still holds %d segments: %v", len(segs), segs)
	}
	b, err := file.New(data)
	if err != nil {
		t.Fatal(err)
	}
	got, total := readCaptures(t, b)
	unanswered := 0
	for id := range got {
		if _, ok := answered[id]; !ok {
			unanswered++
		}
	}
	t.Logf("%d cycles, SIGKILL after %v; %d answered 2xx, %d without an answer, other statuses %v; "+
		"%d records found (%d distinct), %d of them without a 2xx (killed after the fsync, before the answer); "+
		"records found in the spool by each restart %v; torn records discarded at restarts: %v",
		cycles, delays, len(answered), noAnswer, other, total, len(got), unanswered, recovered, torn)
	if len(other) > 0 {
		t.Errorf("answers other than 2xx: %v\n%s", other, p.logs)
	}
	checkExactlyOnce(t, got, answered, "crash")
	if len(answered) < 200 {
		t.Fatalf("only %d requests were answered 2xx over %d cycles; the test proves nothing", len(answered), cycles)
	}
}

// TestServe_ObjectStoreOutage stops the S3 store (a private moto) under
// traffic: the sync/reject endpoint answers 2xx until the spool is full and
// then 503, the async/shed endpoint keeps answering 2xx and drops records;
// once the store is back the spool drains, the sync endpoint answers 2xx
// again, and every record it acknowledged during and after the outage is in
// the bucket exactly once.
func TestServe_ObjectStoreOutage(t *testing.T) {
	bin := glassboxBinary(t)
	moto := testenv.StartMoto(t)
	testenv.AWSEnv(t, moto.URL) // inherited by the glassbox process
	bucketName := testenv.UniqueName("glassbox-outage")
	testenv.CreateBucket(t, moto.URL, bucketName)
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	const maxBytes = 1 << 20
	cfg := writeConfig(t, dir, fmt.Sprintf(`server:
  shutdown_timeout: 30s
storage:
  blob: s3://%s/capture
  spool: %s
  spool_max_bytes: 1MiB
  spool_segment_bytes: 64KiB
  spool_fsync_interval: 20ms
  s3:
    endpoint: %s
    path_style: true
    region: us-east-1
log:
  level: info
%s%s`, bucketName, filepath.Join(dir, "spool"), moto.URL,
		endpointYAML("audit", m.URL, "      durability: sync\n      on_spool_full: reject\n      max_object_seconds: 1\n"),
		moreEndpoints(endpointYAML("bulk", m.URL, "      durability: async\n      on_spool_full: shed\n      max_object_seconds: 1\n"))))
	p := startGlassbox(t, bin, cfg)
	client := newClient()
	defer client.CloseIdleConnections()
	pad := strings.Repeat("x", 2048)

	// Phase A: store up.
	for i := range 10 {
		for _, ep := range []string{"audit", "bulk"} {
			if r := invoke(client, p.Invocations(ep), fmt.Sprintf("A,%d,%s", i, pad)); !r.ok() {
				t.Fatalf("phase A: %s answered %d %s %v", ep, r.status, r.body, r.err)
			}
		}
	}
	if mt, ok := waitMetrics(t, p, 15*time.Second, func(mt string) bool {
		return metricSum(mt, "glassbox_capture_records_uploaded_total", `endpoint="audit"`) >= 10 &&
			metricSum(mt, "glassbox_capture_records_uploaded_total", `endpoint="bulk"`) >= 10
	}); !ok {
		t.Fatalf("phase A records did not reach S3 within 15s\n%s\n%s", mt, p.logs)
	}

	// Phase B: store down. bulk traffic runs in the background (paced, so
	// that the spool rather than the writer's queue fills up) while audit is
	// called in sequence until its first 503.
	moto.Stop()
	outage := time.Now()
	auditIDs := map[string]string{} // 2xx of phases B and C
	var (
		bmu        sync.Mutex
		bulkOK     = map[string]bool{}
		bulkFailed []string
	)
	stopBulk := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopBulk:
					return
				default:
				}
				r := invoke(client, p.Invocations("bulk"), fmt.Sprintf("B,%d,%d,%s", w, i, pad))
				bmu.Lock()
				if r.ok() {
					bulkOK[r.id] = true
				} else {
					bulkFailed = append(bulkFailed, fmt.Sprintf("%d %s %v", r.status, r.body, r.err))
				}
				bmu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	var first503 reply
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; first503.status == 0; i++ {
		if time.Now().After(deadline) {
			close(stopBulk)
			wg.Wait()
			t.Fatalf("audit still answers 2xx %s into the outage (%d acknowledged); the spool never filled\n%s", time.Since(outage), len(auditIDs), p.logs)
		}
		body := fmt.Sprintf("B,audit,%d,%s", i, pad)
		switch r := invoke(client, p.Invocations("audit"), body); {
		case r.ok():
			auditIDs[r.id] = body
		case r.status == http.StatusServiceUnavailable:
			first503 = r
		default:
			close(stopBulk)
			wg.Wait()
			t.Fatalf("audit answered %d %s %v before the spool was full", r.status, r.body, r.err)
		}
	}
	fullAfter := time.Since(outage)
	atFirst503 := scrape(t, p.Base)
	spoolBytes := metricValue(t, atFirst503, "glassbox_spool_bytes")
	queueBytes := metricValue(t, atFirst503, "glassbox_capture_queue_bytes")
	checkJSONError(t, first503, "spool is full", "could not be made durable")
	// Admit refuses once spooled plus queued bytes reach spool_max_bytes.
	// While the store is down that sum only grows (a queued record is
	// either written or refused because the spool is full), so a scrape
	// just after the 503 must show it near the limit.
	if spoolBytes+queueBytes < maxBytes/2 {
		t.Errorf("audit answered 503 with only %.0f bytes spooled and %.0f queued, for a spool of %d", spoolBytes, queueBytes, maxBytes)
	}
	// Once bulk records are being shed, the spool is full for good while
	// the store is down, and audit refuses every exchange.
	mt, ok := waitMetrics(t, p, 10*time.Second, func(mt string) bool {
		return metricSum(mt, "glassbox_capture_records_dropped_total", `endpoint="bulk"`, `reason="spool_full"`) > 0
	})
	if !ok {
		t.Errorf("no bulk record was dropped for spool_full while the spool was full\n%s", mt)
	}
	for i := range 3 {
		r := invoke(client, p.Invocations("audit"), fmt.Sprintf("B,full,%d", i))
		checkJSONError(t, r, "spool is full", "could not be made durable")
	}
	close(stopBulk)
	wg.Wait()
	if len(bulkFailed) > 0 {
		t.Errorf("bulk (async, shed) answered %d requests with an error during the outage, e.g. %s", len(bulkFailed), bulkFailed[0])
	}
	duringOutage := scrape(t, p.Base)

	// Phase C: the store is back, empty (moto keeps nothing).
	if err := moto.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.CreateBucket(t, moto.URL, bucketName)
	back := time.Now()
	if mt, ok := waitMetrics(t, p, 60*time.Second, func(mt string) bool {
		return metricValue(t, mt, "glassbox_spool_records") == 0
	}); !ok {
		t.Fatalf("the spool did not drain within 60s of the store's return\n%s\n%s", mt, p.logs)
	}
	drain := time.Since(back)
	for i := range 10 {
		body := fmt.Sprintf("C,%d,%s", i, pad)
		r := invoke(client, p.Invocations("audit"), body)
		if !r.ok() {
			t.Fatalf("after recovery audit answered %d %s %v", r.status, r.body, r.err)
		}
		auditIDs[r.id] = body
		if r := invoke(client, p.Invocations("bulk"), body); !r.ok() {
			t.Fatalf("after recovery bulk answered %d %s %v", r.status, r.body, r.err)
		}
	}
	end, ok := waitMetrics(t, p, 30*time.Second, func(mt string) bool {
		return metricValue(t, mt, "glassbox_spool_records") == 0
	})
	if !ok {
		t.Fatalf("phase C records were not uploaded within 30s\n%s", end)
	}
	// bulk's records cannot be told apart individually (phase A's died with
	// moto), so its accounting is checked on the counters.
	sampled := metricSum(end, "glassbox_capture_sampled_total", `endpoint="bulk"`)
	written := metricSum(end, "glassbox_capture_records_written_total", `endpoint="bulk"`)
	dropped := metricSum(end, "glassbox_capture_records_dropped_total", `endpoint="bulk"`)
	uploaded := metricSum(end, "glassbox_capture_records_uploaded_total", `endpoint="bulk"`)
	if sampled != written+dropped || uploaded != written {
		t.Errorf("bulk: sampled %v, written %v, dropped %v, uploaded %v; want sampled = written + dropped and uploaded = written",
			sampled, written, dropped, uploaded)
	}
	p.Terminate(40 * time.Second)

	b, err := s3.New(context.Background(), s3.Options{Bucket: bucketName, Prefix: "capture",
		Endpoint: moto.URL, PathStyle: true, Region: testenv.Region})
	if err != nil {
		t.Fatal(err)
	}
	got, total := readCaptures(t, b)
	checkExactlyOnce(t, got, auditIDs, "audit")
	bulkFound := 0
	for id, c := range got {
		if c.endpoint == "bulk" {
			bulkFound++
			if !bulkOK[id] && !strings.HasPrefix(c.input, "A,") && !strings.HasPrefix(c.input, "C,") {
				t.Errorf("bulk record %s (input %.20q) was never answered 2xx", id, c.input)
			}
		}
	}
	t.Logf("outage: first audit 503 %s after the store stopped, after %d audit 2xx, with glassbox_spool_bytes %.0f of %d (queue %.0f bytes); "+
		"bulk: %d answered 2xx during the outage, dropped %v (spool_full %v); audit rejected %v; "+
		"spool drained %s after the store returned; bucket holds %d records (%d bulk); audit acknowledged %d in phases B+C",
		fullAfter.Round(time.Millisecond), len(auditIDs)-10, spoolBytes, maxBytes, queueBytes,
		len(bulkOK), metricSum(duringOutage, "glassbox_capture_records_dropped_total", `endpoint="bulk"`),
		metricSum(duringOutage, "glassbox_capture_records_dropped_total", `endpoint="bulk"`, `reason="spool_full"`),
		metricSum(duringOutage, "glassbox_capture_rejected_total", `endpoint="audit"`),
		drain.Round(time.Millisecond), total, bulkFound, len(auditIDs))
}

// TestServe_SpoolUnwritable checks that a spool folder that cannot be
// created stops the start with a message naming it, and that a spool that
// stops accepting new segments while running makes the sync/reject endpoint
// answer 503 (not hang, not 200) while the async/shed endpoint keeps
// serving, until the folder is repaired.
func TestServe_SpoolUnwritable(t *testing.T) {
	bin := glassboxBinary(t)
	m := startTestModel(t, echoModel("text/csv"))
	eps := endpointYAML("rec", m.URL, "      durability: sync\n      on_spool_full: reject\n      max_object_seconds: 1\n") +
		moreEndpoints(endpointYAML("bulk", m.URL, "      durability: async\n      on_spool_full: shed\n      max_object_seconds: 1\n"))
	config := func(dir, spool string) string {
		return writeConfig(t, dir, fmt.Sprintf("server:\n  shutdown_timeout: 20s\nstorage:\n  blob: file://%s\n  spool: %s\n  spool_fsync_interval: 20ms\nlog:\n  level: info\n%s",
			filepath.Join(dir, "data"), spool, eps))
	}

	t.Run("at start", func(t *testing.T) {
		dir := t.TempDir()
		afile := filepath.Join(dir, "afile")
		if err := os.WriteFile(afile, []byte("not a folder"), 0o600); err != nil {
			t.Fatal(err)
		}
		spool := filepath.Join(afile, "spool")
		p := launchGlassbox(t, bin, config(dir, spool))
		exited, err := p.Wait(10 * time.Second)
		if !exited {
			t.Fatalf("glassbox still runs with spool %s under a regular file\n%s", spool, p.logs)
		}
		if err == nil {
			t.Errorf("glassbox exited 0 with an unusable spool\n%s", p.logs)
		}
		if !strings.Contains(p.logs.String(), spool) {
			t.Errorf("the error does not name the spool folder %s:\n%s", spool, p.logs)
		}
		t.Logf("%v: %s", err, strings.TrimSpace(p.logs.String()))
	})

	t.Run("while running", func(t *testing.T) {
		dir := t.TempDir()
		spool := filepath.Join(dir, "spool")
		p := startGlassbox(t, bin, config(dir, spool))
		client := newClient()
		defer client.CloseIdleConnections()
		recIDs := map[string]string{}
		call := func(endpoint, body string) reply {
			r := invoke(client, p.Invocations(endpoint), body)
			if endpoint == "rec" && r.ok() {
				recIDs[r.id] = body
			}
			return r
		}
		for i := range 10 {
			for _, ep := range []string{"rec", "bulk"} {
				if r := call(ep, fmt.Sprintf("before,%d", i)); !r.ok() {
					t.Fatalf("%s answered %d %s %v with a healthy spool", ep, r.status, r.body, r.err)
				}
			}
		}

		// No new segment can be created: segments/ is now a regular file.
		// The open segment (in the moved folder) takes records until the
		// next roll, at most max_object_seconds later.
		segs := filepath.Join(spool, "segments")
		away := filepath.Join(spool, "segments.away")
		if err := os.Rename(segs, away); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(segs, []byte("in the way"), 0o600); err != nil {
			t.Fatal(err)
		}
		broken := time.Now()
		var (
			bmu        sync.Mutex
			bulkOK     int
			bulkFailed []string
		)
		stopBulk := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopBulk:
					return
				default:
				}
				r := invoke(client, p.Invocations("bulk"), fmt.Sprintf("broken,%d", i))
				bmu.Lock()
				if r.ok() {
					bulkOK++
				} else {
					bulkFailed = append(bulkFailed, fmt.Sprintf("%d %s %v", r.status, r.body, r.err))
				}
				bmu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		stopBackground := func() {
			select {
			case <-stopBulk:
			default:
				close(stopBulk)
				wg.Wait()
			}
		}
		defer stopBackground()
		var first503 reply
		for i := 0; first503.status == 0; i++ {
			if time.Since(broken) > 10*time.Second {
				t.Fatalf("rec still answers 2xx 10s after the spool became unwritable\n%s", p.logs)
			}
			switch r := call("rec", fmt.Sprintf("broken,rec,%d", i)); {
			case r.ok():
			case r.status == http.StatusServiceUnavailable:
				first503 = r
			default:
				t.Fatalf("rec answered %d %s %v with an unwritable spool, want 2xx until the roll, then 503", r.status, r.body, r.err)
			}
		}
		failedAfter := time.Since(broken)
		checkJSONError(t, first503, "spool cannot be written", "could not be made durable")
		for i := range 3 {
			start := time.Now()
			r := call("rec", fmt.Sprintf("broken,again,%d", i))
			checkJSONError(t, r, "spool cannot be written", "could not be made durable")
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the 503 took %s", d)
			}
		}
		mt, ok := waitMetrics(t, p, 10*time.Second, func(mt string) bool {
			return metricSum(mt, "glassbox_capture_records_dropped_total", `endpoint="bulk"`, `reason="spool_error"`) > 0
		})
		if !ok {
			t.Errorf("no bulk record was counted as dropped for spool_error\n%s", mt)
		}
		stopBackground()
		if len(bulkFailed) > 0 {
			t.Errorf("bulk (async, shed) failed %d of %d requests with an unwritable spool, e.g. %s", len(bulkFailed), len(bulkFailed)+bulkOK, bulkFailed[0])
		}

		// Repair the folder. Only rec is called now: recovery must not
		// depend on some other endpoint's traffic.
		if err := os.Remove(segs); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(away, segs); err != nil {
			t.Fatal(err)
		}
		repaired := time.Now()
		recovered := func(d time.Duration) bool {
			for i := 0; time.Since(repaired) < d; i++ {
				r := call("rec", fmt.Sprintf("repaired,%d", i))
				if r.ok() {
					return true
				}
				if r.status != http.StatusServiceUnavailable {
					t.Fatalf("rec answered %d %s %v after the repair", r.status, r.body, r.err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			return false
		}
		unstuck := ""
		if !recovered(5 * time.Second) {
			unstuck = " (only once an async record was written)"
			t.Errorf("rec (sync, reject) still answers 503 %s after the spool folder was repaired, with no other traffic: "+
				"while the spool is marked broken, Admit refuses every sync exchange, so nothing ever retries a write", time.Since(repaired).Round(time.Millisecond))
			// One async record makes the writer try a new segment.
			if r := invoke(client, p.Invocations("bulk"), "unstick"); !r.ok() {
				t.Fatalf("bulk answered %d %s %v", r.status, r.body, r.err)
			}
			if !recovered(10 * time.Second) {
				t.Fatalf("rec does not answer 2xx even after an async record was written\n%s", p.logs)
			}
		}
		recoveredAfter := time.Since(repaired)
		for i := range 10 {
			if r := call("rec", fmt.Sprintf("after,%d", i)); !r.ok() {
				t.Fatalf("rec answered %d %s %v after recovering", r.status, r.body, r.err)
			}
		}
		final := scrape(t, p.Base)
		p.Terminate(30 * time.Second)
		b, err := file.New(filepath.Join(dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		got, total := readCaptures(t, b)
		checkExactlyOnce(t, got, recIDs, "rec")
		t.Logf("rec: first 503 %s after segments/ became a file; bulk answered %d 2xx meanwhile, dropped %v (spool_error), spool write errors %v, rec rejected %v; "+
			"rec answered 2xx again %s after the repair%s; %d rec events acknowledged, %d records in the blob store",
			failedAfter.Round(time.Millisecond), bulkOK,
			metricSum(final, "glassbox_capture_records_dropped_total", `endpoint="bulk"`, `reason="spool_error"`),
			metricValue(t, final, "glassbox_spool_write_errors_total"),
			metricSum(final, "glassbox_capture_rejected_total", `endpoint="rec"`),
			recoveredAfter.Round(time.Millisecond), unstuck, len(recIDs), total)
	})
}
