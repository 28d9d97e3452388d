package capture_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

// sagemakerRoot is a bucket root holding one capture object written by a real
// SageMaker endpoint, at its original key.
const sagemakerRoot = "testdata/sagemaker"

// sagemakerKey is the key of that object below sagemakerRoot.
const sagemakerKey = "DEMO-xgb-churn-pred-model-monitor-2022-04-18-00-13-16/AllTraffic/2022/04/18/00/20-48-871-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl"

// sagemakerLines returns the lines of the SageMaker object, each with its
// trailing newline, exactly as SageMaker wrote them.
func sagemakerLines(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(sagemakerRoot, filepath.FromSlash(sagemakerKey)))
	if err != nil {
		tb.Fatalf("read SageMaker testdata: %v", err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) != 3 {
		tb.Fatalf("SageMaker testdata has %d lines, want 3", len(lines))
	}
	return lines
}

// newBucket returns a file bucket in a fresh temporary folder.
func newBucket(tb testing.TB) *file.Bucket {
	tb.Helper()
	return newBucketAt(tb, tb.TempDir())
}

func newBucketAt(tb testing.TB, root string) *file.Bucket {
	tb.Helper()
	b, err := file.New(root)
	if err != nil {
		tb.Fatalf("file.New(%q): %v", root, err)
	}
	return b
}

// put stores data under key, failing tb on error.
func put(tb testing.TB, b objstore.Bucket, key, data string) {
	tb.Helper()
	if err := b.Put(context.Background(), key, bytes.NewReader([]byte(data))); err != nil {
		tb.Fatalf("Put(%q): %v", key, err)
	}
}

// listKeys returns every key in b, in List order.
func listKeys(tb testing.TB, b objstore.Bucket) []objstore.ObjectInfo {
	tb.Helper()
	var out []objstore.ObjectInfo
	err := b.List(context.Background(), "", func(oi objstore.ObjectInfo) error {
		out = append(out, oi)
		return nil
	})
	if err != nil {
		tb.Fatalf("List: %v", err)
	}
	return out
}

// scanAll returns every record in b with the key of its object.
func scanAll(tb testing.TB, b objstore.Bucket, f capture.Filter) ([]string, []*capture.Record) {
	tb.Helper()
	var keys []string
	var recs []*capture.Record
	r := &capture.Reader{Bucket: b}
	err := r.Scan(context.Background(), f, func(key string, rec *capture.Record) error {
		keys = append(keys, key)
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		tb.Fatalf("Scan: %v", err)
	}
	return keys, recs
}

// metricValue returns the value of the counter or gauge name whose labels
// include labels, or 0 when there is no such series yet.
func metricValue(tb testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
			tb.Fatalf("metric %s is neither a counter nor a gauge", name)
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// waitTimeout bounds every wait on the spool's goroutines. Waits end as soon
// as their condition holds, so the bound only matters when a test fails.
const waitTimeout = 5 * time.Second

// waitFor polls cond until it holds, failing tb after waitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func testPolicy(endpoint string) *capture.Policy {
	return &capture.Policy{
		Endpoint:        endpoint,
		Enabled:         true,
		SamplingPercent: 100,
		Input:           true,
		Output:          true,
		ContentTypes:    capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"}),
	}
}

// tracker makes exchanges whose Release counts its calls and then scribbles
// over Input and Output, as a gateway reusing its buffers would.
type tracker struct {
	mu       sync.Mutex
	released map[string]int
	ids      []string
}

func newTracker() *tracker { return &tracker{released: map[string]int{}} }

func (tr *tracker) exchange(pol *capture.Policy, id, variant string, at time.Time, body string) *capture.Exchange {
	tr.mu.Lock()
	tr.ids = append(tr.ids, id)
	tr.mu.Unlock()
	ex := &capture.Exchange{
		Policy:            pol,
		EventID:           id,
		Variant:           variant,
		Time:              at,
		Latency:           3 * time.Millisecond,
		Status:            200,
		InputContentType:  "text/csv",
		Input:             []byte(body),
		InputSize:         int64(len(body)),
		HasOutput:         true,
		OutputContentType: "application/json",
		Output:            []byte(`{"id":"` + id + `"}`),
	}
	ex.OutputSize = int64(len(ex.Output))
	ex.Release = func() {
		tr.mu.Lock()
		tr.released[id]++
		tr.mu.Unlock()
		for i := range ex.Input {
			ex.Input[i] = 'X'
		}
		for i := range ex.Output {
			ex.Output[i] = 'X'
		}
	}
	return ex
}

func (tr *tracker) count(id string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.released[id]
}

// checkReleasedOnce reports every exchange whose Release was not called
// exactly once.
func (tr *tracker) checkReleasedOnce(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	bad := 0
	for _, id := range tr.ids {
		if n := tr.released[id]; n != 1 {
			if bad < 10 {
				t.Errorf("exchange %s: Release called %d times, want 1", id, n)
			}
			bad++
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more exchanges with a wrong Release count", bad-10)
	}
}

// fakeClock is an injectable SpoolOptions.Now. Stall makes it block its
// callers, which stops the spool's writer (the only caller while nothing is
// being uploaded) without touching the spool's code.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	stall *clockStall
}

type clockStall struct {
	gate    chan struct{} // closed by Resume
	blocked chan struct{} // signalled when a caller blocks on gate
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	st := c.stall
	c.mu.Unlock()
	if st != nil {
		select {
		case st.blocked <- struct{}{}:
		default:
		}
		<-st.gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Stall blocks every later Now call until Resume, and returns once a caller
// is blocked. The spool's writer calls Now on every tick while a segment is
// open, so after Stall returns it takes nothing more from its queue.
func (c *fakeClock) Stall(tb testing.TB) {
	tb.Helper()
	st := &clockStall{gate: make(chan struct{}), blocked: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.stall != nil {
		c.mu.Unlock()
		tb.Fatal("fakeClock.Stall: already stalled")
	}
	c.stall = st
	c.mu.Unlock()
	tb.Cleanup(c.Resume)
	select {
	case <-st.blocked:
	case <-time.After(waitTimeout):
		tb.Fatal("fakeClock.Stall: nothing called Now (is a segment open?)")
	}
}

// Resume releases the callers blocked by Stall. It is idempotent.
func (c *fakeClock) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stall != nil {
		close(c.stall.gate)
		c.stall = nil
	}
}

var errInjected = errors.New("test bucket: injected put failure")

// faultyBucket fails the Puts for which fail returns true (it gets the
// 1-based call number), records every Put's key, and passes the others on.
type faultyBucket struct {
	objstore.Bucket
	fail func(call int) bool

	mu    sync.Mutex
	calls int
	keys  []string // of every Put, failed or not
	ok    atomic.Int32
}

func (b *faultyBucket) Put(ctx context.Context, key string, r io.Reader) error {
	b.mu.Lock()
	b.calls++
	n := b.calls
	b.keys = append(b.keys, key)
	b.mu.Unlock()
	if b.fail != nil && b.fail(n) {
		return errInjected
	}
	if err := b.Bucket.Put(ctx, key, r); err != nil {
		return err
	}
	b.ok.Add(1)
	return nil
}

func (b *faultyBucket) putKeys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.keys...)
}

// switchBucket fails every Put while failing is set.
type switchBucket struct {
	objstore.Bucket
	failing atomic.Bool
	failed  atomic.Int32
}

func (b *switchBucket) Put(ctx context.Context, key string, r io.Reader) error {
	if b.failing.Load() {
		b.failed.Add(1)
		return errInjected
	}
	return b.Bucket.Put(ctx, key, r)
}
