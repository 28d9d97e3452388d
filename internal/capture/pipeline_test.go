package capture_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// waitTimeout bounds every wait for the writer goroutine. Waits end as soon
// as their condition holds, so the bound only matters when a test fails.
const waitTimeout = 5 * time.Second

// t0 is a fixed invocation time in the middle of a UTC hour.
var t0 = time.Date(2024, 5, 2, 14, 7, 31, 0, time.UTC)

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

// fakeClock is an injectable PipelineOptions.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// blockingBucket stalls every Put until release is closed, telling entered
// (buffered) each time a Put starts.
type blockingBucket struct {
	objstore.Bucket
	entered chan string
	release chan struct{}
}

func newBlockingBucket(inner objstore.Bucket) *blockingBucket {
	return &blockingBucket{Bucket: inner, entered: make(chan string, 100), release: make(chan struct{})}
}

func (b *blockingBucket) Put(ctx context.Context, key string, r io.Reader) error {
	b.entered <- key
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.Bucket.Put(ctx, key, r)
}

// flakyBucket fails the first fails Puts, then passes them on.
type flakyBucket struct {
	objstore.Bucket
	fails     int
	calls     atomic.Int32
	successes atomic.Int32
}

var errFlaky = errors.New("flaky bucket: injected put failure")

func (b *flakyBucket) Put(ctx context.Context, key string, r io.Reader) error {
	if int(b.calls.Add(1)) <= b.fails {
		return errFlaky
	}
	if err := b.Bucket.Put(ctx, key, r); err != nil {
		return err
	}
	b.successes.Add(1)
	return nil
}

func closePipeline(tb testing.TB, p *capture.Pipeline) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		tb.Errorf("Close: %v", err)
	}
}

func submit(tb testing.TB, p *capture.Pipeline, ex *capture.Exchange) {
	tb.Helper()
	if err := p.Submit(context.Background(), ex); err != nil {
		tb.Fatalf("Submit(%s): %v", ex.EventID, err)
	}
}

// waitFor polls cond until it holds, failing tb after waitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// encodedLen is the length of the line the pipeline writes for ex.
func encodedLen(tb testing.TB, ex *capture.Exchange) int {
	tb.Helper()
	var buf bytes.Buffer
	if err := capture.AppendRecord(&buf, ex.Record()); err != nil {
		tb.Fatalf("AppendRecord: %v", err)
	}
	return buf.Len()
}

func eventIDs(recs []*capture.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.EventMetadata.EventID
	}
	return ids
}

func TestPipeline_CloseWritesAll(t *testing.T) {
	const goroutines, perGoroutine = 8, 125
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	p := capture.NewPipeline(bucket, capture.PipelineOptions{Metrics: capture.NewMetrics(reg)})
	pol := testPolicy("ep")
	tr := newTracker()

	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				id := fmt.Sprintf("g%d-%03d", g, i)
				// Spread over two variants and three hours.
				at := t0.Add(time.Duration(i%3) * time.Hour).Add(time.Duration(i) * time.Millisecond)
				ex := tr.exchange(pol, id, fmt.Sprintf("v%d", g%2), at, fmt.Sprintf("%d,%d\n", g, i))
				if err := p.Submit(context.Background(), ex); err != nil {
					errs <- fmt.Errorf("Submit(%s): %w", id, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	closePipeline(t, p)

	_, recs := scanAll(t, bucket, capture.Filter{})
	if len(recs) != goroutines*perGoroutine {
		t.Errorf("read back %d records, want %d", len(recs), goroutines*perGoroutine)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.EventMetadata.EventID]++
		// Release scribbled over the buffers; the record must hold the originals.
		if strings.Contains(r.CaptureData.EndpointInput.Data, "X") || strings.Contains(r.CaptureData.EndpointOutput.Data, "X") {
			t.Errorf("record %s holds data overwritten after Release: %+v", r.EventMetadata.EventID, r.CaptureData)
		}
	}
	for _, id := range tr.ids {
		if seen[id] != 1 {
			t.Errorf("event %s read back %d times, want 1", id, seen[id])
		}
	}
	tr.checkReleasedOnce(t)

	// 2 variants × 3 hours, each object well under the default size limit.
	if got := len(listKeys(t, bucket)); got != 6 {
		t.Errorf("%d objects written, want 6 (one per variant and hour)", got)
	}
	ep := map[string]string{"endpoint": "ep"}
	for name, want := range map[string]float64{
		"glassbox_capture_records_written_total": goroutines * perGoroutine,
		"glassbox_capture_objects_written_total": 6,
		"glassbox_capture_queue_records":         0,
		"glassbox_capture_queue_bytes":           0,
		"glassbox_capture_open_objects":          0,
		"glassbox_capture_pending_bytes":         0,
	} {
		if got := metricValue(t, reg, name, ep); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestPipeline_RollBySize(t *testing.T) {
	const limit = 1000
	bucket := newBucket(t)
	p := capture.NewPipeline(bucket, capture.PipelineOptions{})
	pol := testPolicy("ep")
	pol.MaxObjectBytes = limit
	tr := newTracker()

	var ids []string
	maxLine := 0
	for i := range 40 {
		id := fmt.Sprintf("e%02d", i)
		ids = append(ids, id)
		// One second apart, so keys sort in submission order.
		ex := tr.exchange(pol, id, "v", t0.Add(time.Duration(i)*time.Second), strings.Repeat("1,", 20+i))
		maxLine = max(maxLine, encodedLen(t, ex))
		submit(t, p, ex)
	}
	closePipeline(t, p)

	objs := listKeys(t, bucket)
	if len(objs) < 3 {
		t.Fatalf("%d objects written, want several with MaxObjectBytes %d", len(objs), limit)
	}
	small := 0
	for _, oi := range objs {
		if oi.Size >= limit+int64(maxLine) {
			t.Errorf("object %s is %d bytes, want < limit %d + one record %d", oi.Key, oi.Size, limit, maxLine)
		}
		if oi.Size < limit {
			small++
		}
	}
	if small > 1 {
		t.Errorf("%d objects are under the size limit, want at most 1 (the last, written by Close)", small)
	}
	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff(ids, eventIDs(recs)); diff != "" {
		t.Errorf("records read back (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestPipeline_RollByAge(t *testing.T) {
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := capture.NewPipeline(bucket, capture.PipelineOptions{
		Metrics:      capture.NewMetrics(reg),
		Now:          clock.Now,
		TickInterval: time.Millisecond,
	})
	defer closePipeline(t, p)
	pol := testPolicy("ep")
	pol.MaxObjectAge = time.Minute
	tr := newTracker()
	openObjects := func() float64 { return metricValue(t, reg, "glassbox_capture_open_objects", nil) }

	submit(t, p, tr.exchange(pol, "e1", "v", t0, "1,2"))
	waitFor(t, "the first object to open", func() bool { return openObjects() == 1 })

	// Many ticks pass, but on the injected clock the object is young.
	time.Sleep(20 * time.Millisecond)
	clock.Advance(59 * time.Second)
	time.Sleep(20 * time.Millisecond)
	if objs := listKeys(t, bucket); len(objs) != 0 {
		t.Fatalf("objects written before MaxObjectAge: %v", objs)
	}

	clock.Advance(time.Second)
	waitFor(t, "the aged object to be written", func() bool { return len(listKeys(t, bucket)) == 1 })
	waitFor(t, "no open object", func() bool { return openObjects() == 0 })

	// A later record in the same slot starts a new object, aged from now.
	submit(t, p, tr.exchange(pol, "e2", "v", t0.Add(time.Second), "3,4"))
	waitFor(t, "the second object to open", func() bool { return openObjects() == 1 })
	time.Sleep(20 * time.Millisecond)
	if got := len(listKeys(t, bucket)); got != 1 {
		t.Fatalf("%d objects before the second object aged, want 1", got)
	}
	clock.Advance(time.Minute)
	waitFor(t, "the second object to be written", func() bool { return len(listKeys(t, bucket)) == 2 })

	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff([]string{"e1", "e2"}, eventIDs(recs)); diff != "" {
		t.Errorf("records read back (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestPipeline_Grouping(t *testing.T) {
	type sub struct {
		endpoint, variant string
		at                time.Time
	}
	plus2 := time.FixedZone("UTC+2", 2*3600)
	tests := []struct {
		name        string
		subs        []sub
		wantObjects int
	}{
		{
			name: "one slot",
			subs: []sub{
				{"ep", "v", t0}, {"ep", "v", t0.Add(time.Minute)}, {"ep", "v", t0.Add(-7 * time.Minute)},
			},
			wantObjects: 1,
		},
		{
			name: "hour boundary",
			subs: []sub{
				{"ep", "v", time.Date(2024, 5, 2, 10, 59, 59, 999_999_999, time.UTC)},
				{"ep", "v", time.Date(2024, 5, 2, 11, 0, 0, 0, time.UTC)},
				{"ep", "v", time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)},
				{"ep", "v", time.Date(2024, 5, 2, 11, 59, 59, 0, time.UTC)},
			},
			wantObjects: 2,
		},
		{
			name: "non-utc times go to their utc hour",
			subs: []sub{
				{"ep", "v", time.Date(2024, 5, 2, 12, 30, 0, 0, plus2)}, // 10:30Z
				{"ep", "v", time.Date(2024, 5, 2, 10, 45, 0, 0, time.UTC)},
				{"ep", "v", time.Date(2024, 5, 3, 1, 15, 0, 0, plus2)}, // 2024-05-02 23:15Z
			},
			wantObjects: 2,
		},
		{
			name: "day and year boundaries",
			subs: []sub{
				{"ep", "v", time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC)},
				{"ep", "v", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
			},
			wantObjects: 2,
		},
		{
			// Unix()/3600 truncates toward zero, so before 1970 it would put
			// two neighbouring hours in one slot.
			name: "hours before 1970",
			subs: []sub{
				{"ep", "v", time.Date(1969, 12, 31, 23, 30, 0, 0, time.UTC)},
				{"ep", "v", time.Date(1970, 1, 1, 0, 30, 0, 0, time.UTC)},
			},
			wantObjects: 2,
		},
		{
			name: "variants",
			subs: []sub{
				{"ep", "a", t0}, {"ep", "b", t0}, {"ep", "a", t0.Add(time.Second)}, {"ep", "c", t0},
			},
			wantObjects: 3,
		},
		{
			name: "endpoints",
			subs: []sub{
				{"ep1", "v", t0}, {"ep2", "v", t0}, {"ep1", "v", t0.Add(time.Second)},
			},
			wantObjects: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := newBucket(t)
			p := capture.NewPipeline(bucket, capture.PipelineOptions{})
			tr := newTracker()
			pols := map[string]*capture.Policy{}
			for i, s := range tt.subs {
				if pols[s.endpoint] == nil {
					pols[s.endpoint] = testPolicy(s.endpoint)
				}
				submit(t, p, tr.exchange(pols[s.endpoint], fmt.Sprintf("e%d", i), s.variant, s.at, "1"))
			}
			closePipeline(t, p)

			objs := listKeys(t, bucket)
			if len(objs) != tt.wantObjects {
				t.Errorf("%d objects written, want %d: %v", len(objs), tt.wantObjects, objs)
			}
			total := 0
			for _, oi := range objs {
				info, err := capture.ParseObjectKey(oi.Key)
				if err != nil {
					t.Fatalf("written key %q does not parse: %v", oi.Key, err)
				}
				_, recs := scanAll(t, bucket, capture.Filter{Endpoint: info.Endpoint, Variant: info.Variant})
				n := 0
				for _, r := range recs {
					rt, err := r.Time()
					if err != nil {
						t.Fatalf("record %s: %v", r.EventMetadata.EventID, err)
					}
					if !rt.Truncate(time.Hour).Equal(info.Hour) {
						continue // another object of the same endpoint and variant
					}
					n++
					if r.Glassbox.Endpoint != info.Endpoint || r.Glassbox.Variant != info.Variant {
						t.Errorf("record %s (endpoint %s, variant %s) in object %s", r.EventMetadata.EventID, r.Glassbox.Endpoint, r.Glassbox.Variant, oi.Key)
					}
				}
				// Every line of this object must belong to its hour folder.
				lines := countLines(t, bucket, oi.Key)
				if n != lines {
					t.Errorf("object %s has %d lines but %d records of its hour %v", oi.Key, lines, n, info.Hour)
				}
				total += lines
			}
			if total != len(tt.subs) {
				t.Errorf("%d records written, want %d", total, len(tt.subs))
			}
			tr.checkReleasedOnce(t)
		})
	}
}

func countLines(tb testing.TB, b objstore.Bucket, key string) int {
	tb.Helper()
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		tb.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read %q: %v", key, err)
	}
	return bytes.Count(data, []byte("\n"))
}

func TestPipeline_QueueLimits(t *testing.T) {
	tests := []struct {
		name       string
		opts       capture.PipelineOptions
		queued     []int // body sizes accepted while the writer is stalled
		rejected   int   // body size of the exchange that does not fit
		wantReason string
	}{
		{
			name:       "records",
			opts:       capture.PipelineOptions{QueueMaxRecords: 2},
			queued:     []int{10, 10},
			rejected:   10,
			wantReason: capture.DropQueueFull,
		},
		{
			// Each exchange counts its bodies + 512 bytes: 612 + 612 fits in
			// 1500, a third does not.
			name:       "bytes",
			opts:       capture.PipelineOptions{QueueMaxBytes: 1500},
			queued:     []int{100 - len(`{"id":"q0"}`), 100 - len(`{"id":"q1"}`)},
			rejected:   100 - len(`{"id":"rejected"}`),
			wantReason: capture.DropQueueBytes,
		},
		{
			name:       "one exchange larger than the byte limit",
			opts:       capture.PipelineOptions{QueueMaxBytes: 1500},
			queued:     nil,
			rejected:   1000,
			wantReason: capture.DropQueueBytes,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := newBucket(t)
			bucket := newBlockingBucket(inner)
			reg := prometheus.NewRegistry()
			opts := tt.opts
			opts.Metrics = capture.NewMetrics(reg)
			p := capture.NewPipeline(bucket, opts)
			released := false
			release := func() {
				if !released {
					released = true
					close(bucket.release)
				}
			}
			defer closePipeline(t, p)
			defer release()
			pol := testPolicy("ep")
			pol.MaxObjectBytes = 1 // every record flushes, so the first one stalls the writer
			tr := newTracker()

			submit(t, p, tr.exchange(pol, "stall", "v", t0, "1"))
			select {
			case <-bucket.entered:
			case <-time.After(waitTimeout):
				t.Fatal("the writer never called Put")
			}
			var want []string
			want = append(want, "stall")
			for i, n := range tt.queued {
				id := fmt.Sprintf("q%d", i)
				submit(t, p, tr.exchange(pol, id, "v", t0.Add(time.Duration(i+1)*time.Second), strings.Repeat("x", n)))
				want = append(want, id)
			}
			if got := metricValue(t, reg, "glassbox_capture_queue_records", nil); got != float64(len(tt.queued)) {
				t.Errorf("queue_records = %v, want %d", got, len(tt.queued))
			}

			err := p.Submit(context.Background(), tr.exchange(pol, "rejected", "v", t0, strings.Repeat("x", tt.rejected)))
			if !errors.Is(err, capture.ErrQueueFull) {
				t.Fatalf("Submit on a full queue = %v, want ErrQueueFull", err)
			}
			if got := tr.count("rejected"); got != 1 {
				t.Errorf("rejected exchange released %d times by Submit, want 1", got)
			}
			for _, reason := range []string{capture.DropQueueFull, capture.DropQueueBytes, capture.DropClosed} {
				wantN := 0.0
				if reason == tt.wantReason {
					wantN = 1
				}
				labels := map[string]string{"endpoint": "ep", "reason": reason}
				if got := metricValue(t, reg, "glassbox_capture_records_dropped_total", labels); got != wantN {
					t.Errorf("records_dropped_total{reason=%q} = %v, want %v", reason, got, wantN)
				}
			}

			release()
			closePipeline(t, p)
			_, recs := scanAll(t, inner, capture.Filter{})
			if diff := cmp.Diff(want, eventIDs(recs)); diff != "" {
				t.Errorf("records written (-want +got):\n%s", diff)
			}
			tr.checkReleasedOnce(t)
		})
	}
}

func TestPipeline_SubmitAfterClose(t *testing.T) {
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	p := capture.NewPipeline(bucket, capture.PipelineOptions{Metrics: capture.NewMetrics(reg)})
	pol := testPolicy("ep")
	tr := newTracker()
	submit(t, p, tr.exchange(pol, "before", "v", t0, "1"))
	closePipeline(t, p)

	err := p.Submit(context.Background(), tr.exchange(pol, "after", "v", t0, "2"))
	if !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
	labels := map[string]string{"endpoint": "ep", "reason": capture.DropClosed}
	if got := metricValue(t, reg, "glassbox_capture_records_dropped_total", labels); got != 1 {
		t.Errorf("records_dropped_total{reason=closed} = %v, want 1", got)
	}
	// A second Close is harmless.
	closePipeline(t, p)

	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff([]string{"before"}, eventIDs(recs)); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestPipeline_CloseContextEnds(t *testing.T) {
	inner := newBucket(t)
	bucket := newBlockingBucket(inner)
	p := capture.NewPipeline(bucket, capture.PipelineOptions{})
	pol := testPolicy("ep")
	pol.MaxObjectBytes = 1
	tr := newTracker()
	submit(t, p, tr.exchange(pol, "e1", "v", t0, "1"))
	<-bucket.entered
	submit(t, p, tr.exchange(pol, "e2", "v", t0.Add(time.Second), "2"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a stalled writer = %v, want context.DeadlineExceeded", err)
	}
	if err := p.Submit(context.Background(), tr.exchange(pol, "e3", "v", t0, "3")); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Submit after a timed-out Close = %v, want ErrClosed", err)
	}

	close(bucket.release)
	closePipeline(t, p)
	_, recs := scanAll(t, inner, capture.Filter{})
	if diff := cmp.Diff([]string{"e1", "e2"}, eventIDs(recs)); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestPipeline_PutRetriedOnTick(t *testing.T) {
	inner := newBucket(t)
	bucket := &flakyBucket{Bucket: inner, fails: 2}
	reg := prometheus.NewRegistry()
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := capture.NewPipeline(bucket, capture.PipelineOptions{
		Metrics:      capture.NewMetrics(reg),
		Now:          clock.Now,
		TickInterval: time.Millisecond,
	})
	defer closePipeline(t, p)
	pol := testPolicy("ep")
	tr := newTracker()

	var ids []string
	pending := 0
	for i := range 3 {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		ex := tr.exchange(pol, id, "v", t0.Add(time.Duration(i)*time.Second), "1,2")
		pending += encodedLen(t, ex)
		submit(t, p, ex)
	}
	waitFor(t, "all records in one open object", func() bool {
		return metricValue(t, reg, "glassbox_capture_pending_bytes", nil) == float64(pending)
	})

	clock.Advance(capture.DefaultMaxObjectAge)
	// Failed writes back off on the pipeline's clock; let it run forward.
	waitFor(t, "a successful Put", func() bool {
		clock.Advance(time.Minute)
		return bucket.successes.Load() == 1
	})
	waitFor(t, "no open object", func() bool { return metricValue(t, reg, "glassbox_capture_open_objects", nil) == 0 })
	if got := bucket.calls.Load(); got != 3 {
		t.Errorf("Put called %d times, want 3 (2 failures, 1 success)", got)
	}
	ep := map[string]string{"endpoint": "ep"}
	if got := metricValue(t, reg, "glassbox_capture_object_put_failures_total", ep); got != 2 {
		t.Errorf("object_put_failures_total = %v, want 2", got)
	}
	if got := metricValue(t, reg, "glassbox_capture_records_written_total", ep); got != 3 {
		t.Errorf("records_written_total = %v, want 3", got)
	}
	_, recs := scanAll(t, inner, capture.Filter{})
	if diff := cmp.Diff(ids, eventIDs(recs)); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestPipeline_CloseRetriesPut(t *testing.T) {
	tests := []struct {
		name         string
		fails        int
		wantErr      bool
		wantFailures float64
		wantRecords  int
	}{
		{name: "recovers", fails: 2, wantFailures: 2, wantRecords: 2},
		{name: "gives up", fails: 1 << 30, wantErr: true, wantFailures: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := newBucket(t)
			bucket := &flakyBucket{Bucket: inner, fails: tt.fails}
			reg := prometheus.NewRegistry()
			// The ticker never fires during the test: only Close writes.
			p := capture.NewPipeline(bucket, capture.PipelineOptions{Metrics: capture.NewMetrics(reg), TickInterval: time.Hour})
			pol := testPolicy("ep")
			tr := newTracker()
			submit(t, p, tr.exchange(pol, "e1", "v", t0, "1"))
			submit(t, p, tr.exchange(pol, "e2", "v", t0, "2"))

			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err := p.Close(ctx)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Close = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errFlaky) {
				t.Errorf("Close error = %v, want it to wrap the Put error", err)
			}
			if err != nil && !strings.Contains(err.Error(), "2 records") {
				t.Errorf("Close error = %q, want it to count the 2 lost records", err)
			}
			ep := map[string]string{"endpoint": "ep"}
			if got := metricValue(t, reg, "glassbox_capture_object_put_failures_total", ep); got != tt.wantFailures {
				t.Errorf("object_put_failures_total = %v, want %v", got, tt.wantFailures)
			}
			if _, recs := scanAll(t, inner, capture.Filter{}); len(recs) != tt.wantRecords {
				t.Errorf("%d records written, want %d", len(recs), tt.wantRecords)
			}
			tr.checkReleasedOnce(t)
		})
	}
}
