package capture_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// t0 is a fixed invocation time in the middle of a UTC hour.
var t0 = time.Date(2024, 5, 2, 14, 7, 31, 0, time.UTC)

func eventIDs(recs []*capture.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.EventMetadata.EventID
	}
	return ids
}

// spoolOptions returns the options of a fast test spool in a fresh folder:
// millisecond ticks and upload retries. reg and clock may be nil.
func spoolOptions(tb testing.TB, reg *prometheus.Registry, clock *fakeClock) capture.SpoolOptions {
	tb.Helper()
	opts := capture.SpoolOptions{
		Dir:            tb.TempDir(),
		FsyncInterval:  time.Millisecond,
		UploadRetryMin: time.Millisecond,
		UploadRetryMax: 10 * time.Millisecond,
	}
	if reg != nil {
		opts.Metrics = capture.NewMetrics(reg)
	}
	if clock != nil {
		opts.Now = clock.Now
	}
	if spoolEncrypted(tb) {
		opts.Keys = testSpoolKeys(tb)
	}
	return opts
}

// spoolEncrypted reports whether the spools of a test are encrypted: in
// the "encrypted" half of bothSpoolModes, or in every test when
// GLASSBOX_TEST_SPOOL_KEYS is set.
func spoolEncrypted(tb testing.TB) bool {
	return os.Getenv("GLASSBOX_TEST_SPOOL_KEYS") != "" || strings.Contains(tb.Name(), "/encrypted")
}

// spoolKeyrings holds one keyring per test, so every spool of a test (a
// crash and the restart) uses the same keys.
var spoolKeyrings sync.Map // test name -> *keys.Keyring

func testSpoolKeys(tb testing.TB) *keys.Keyring {
	tb.Helper()
	if k, ok := spoolKeyrings.Load(tb.Name()); ok {
		return k.(*keys.Keyring)
	}
	k := mustKeyring(tb)
	spoolKeyrings.Store(tb.Name(), k)
	tb.Cleanup(func() { spoolKeyrings.Delete(tb.Name()) })
	return k
}

// bothSpoolModes runs a spool test with a plain and with an encrypted
// spool (spoolOptions sets the keys in the second).
func bothSpoolModes(t *testing.T, test func(t *testing.T)) {
	t.Run("plain", test)
	t.Run("encrypted", test)
}

// openSpool opens a spool and makes sure its goroutines stop by the end of
// the test. Tests check Close themselves with closeSpool.
func openSpool(tb testing.TB, bucket objstore.Bucket, opts capture.SpoolOptions) *capture.Spool {
	tb.Helper()
	s, err := capture.OpenSpool(bucket, opts)
	if err != nil {
		tb.Fatalf("OpenSpool: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func closeSpool(tb testing.TB, s *capture.Spool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		tb.Errorf("Close: %v", err)
	}
}

func submit(tb testing.TB, s *capture.Spool, ex *capture.Exchange) {
	tb.Helper()
	if err := s.Submit(context.Background(), ex); err != nil {
		tb.Fatalf("Submit(%s): %v", ex.EventID, err)
	}
}

// segmentFiles returns the names of the segment files of the spool in dir.
func segmentFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "segments"))
	if err != nil {
		tb.Fatalf("read spool segments: %v", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") {
			names = append(names, e.Name())
		}
	}
	return names
}

// ledgerFile is what the tests read of the spool's ledger.json.
type ledgerFile struct {
	SpoolID          string `json:"spool_id"`
	NextSegment      uint64 `json:"next_segment"`
	UploadedSegments uint64 `json:"uploaded_segments"`
	UploadedRecords  uint64 `json:"uploaded_records"`
}

func readLedger(tb testing.TB, dir string) ledgerFile {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ledger.json"))
	if err != nil {
		tb.Fatalf("read ledger: %v", err)
	}
	var l ledgerFile
	if err := json.Unmarshal(b, &l); err != nil {
		tb.Fatalf("decode ledger: %v\n%s", err, b)
	}
	return l
}

// copyFiles copies the regular files of src (one level of folders deep, as
// the spool lays them out) to dst.
func copyFiles(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		tb.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// objectKeys returns the keys of the objects in b.
func objectKeys(tb testing.TB, b objstore.Bucket) []string {
	tb.Helper()
	var keys []string
	for _, oi := range listKeys(tb, b) {
		keys = append(keys, oi.Key)
	}
	return keys
}

func TestSpool_CloseUploadsAll(t *testing.T) { bothSpoolModes(t, testSpoolCloseUploadsAll) }

func testSpoolCloseUploadsAll(t *testing.T) {
	const goroutines, perGoroutine = 8, 125
	for _, isSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", isSync), func(t *testing.T) {
			bucket := newBucket(t)
			reg := prometheus.NewRegistry()
			// A frozen clock: only Close seals the segment.
			opts := spoolOptions(t, reg, newFakeClock(t0))
			s := openSpool(t, bucket, opts)
			pol := testPolicy("ep")
			pol.Sync = isSync
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
						if err := s.Submit(context.Background(), ex); err != nil {
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
			closeSpool(t, s)

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

			// One segment: 2 variants × 3 hours.
			if got := len(listKeys(t, bucket)); got != 6 {
				t.Errorf("%d objects written, want 6 (one per variant and hour)", got)
			}
			ep := map[string]string{"endpoint": "ep"}
			for name, want := range map[string]float64{
				"glassbox_capture_records_written_total":      goroutines * perGoroutine,
				"glassbox_capture_records_uploaded_total":     goroutines * perGoroutine,
				"glassbox_capture_objects_written_total":      6,
				"glassbox_capture_queue_records":              0,
				"glassbox_capture_queue_bytes":                0,
				"glassbox_spool_bytes":                        0,
				"glassbox_spool_records":                      0,
				"glassbox_spool_segments":                     0,
				"glassbox_spool_oldest_unsent_age_seconds":    0,
				"glassbox_spool_torn_records_discarded_total": 0,
			} {
				if got := metricValue(t, reg, name, ep); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			if got := metricValue(t, reg, "glassbox_upload_objects_total", map[string]string{"result": "ok"}); got != 6 {
				t.Errorf("upload_objects_total{result=ok} = %v, want 6", got)
			}
			if got := segmentFiles(t, opts.Dir); len(got) != 0 {
				t.Errorf("segment files left after Close: %v", got)
			}
		})
	}
}

func TestSpool_Grouping(t *testing.T) { bothSpoolModes(t, testSpoolGrouping) }

func testSpoolGrouping(t *testing.T) {
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
			s := openSpool(t, bucket, spoolOptions(t, nil, newFakeClock(t0)))
			tr := newTracker()
			pols := map[string]*capture.Policy{}
			for i, sb := range tt.subs {
				if pols[sb.endpoint] == nil {
					pols[sb.endpoint] = testPolicy(sb.endpoint)
				}
				submit(t, s, tr.exchange(pols[sb.endpoint], fmt.Sprintf("e%d", i), sb.variant, sb.at, "1"))
			}
			closeSpool(t, s)

			objs := listKeys(t, bucket)
			if len(objs) != tt.wantObjects {
				t.Errorf("%d objects written, want %d: %v", len(objs), tt.wantObjects, objs)
			}
			if got := checkObjectsInTheirHour(t, bucket); got != len(tt.subs) {
				t.Errorf("%d records written, want %d", got, len(tt.subs))
			}
			tr.checkReleasedOnce(t)
		})
	}
}

// checkObjectsInTheirHour checks that every line of every object in b is a
// record of the object's endpoint, variant and hour folder, and returns the
// number of records.
func checkObjectsInTheirHour(t *testing.T, b objstore.Bucket) int {
	t.Helper()
	total := 0
	for _, oi := range listKeys(t, b) {
		info, err := capture.ParseObjectKey(oi.Key)
		if err != nil {
			t.Fatalf("written key %q does not parse: %v", oi.Key, err)
		}
		data := readObject(t, b, oi.Key)
		for i, line := range strings.SplitAfter(strings.TrimSuffix(data, "\n"), "\n") {
			r, err := capture.DecodeRecord([]byte(line))
			if err != nil {
				t.Fatalf("%s line %d: %v", oi.Key, i+1, err)
			}
			rt, err := r.Time()
			if err != nil {
				t.Fatalf("record %s: %v", r.EventMetadata.EventID, err)
			}
			if !rt.Truncate(time.Hour).Equal(info.Hour) {
				t.Errorf("record %s (inferenceTime %s) in object %s of hour %v", r.EventMetadata.EventID, r.EventMetadata.InferenceTime, oi.Key, info.Hour)
			}
			if r.Glassbox.Endpoint != info.Endpoint || r.Glassbox.Variant != info.Variant {
				t.Errorf("record %s (endpoint %s, variant %s) in object %s", r.EventMetadata.EventID, r.Glassbox.Endpoint, r.Glassbox.Variant, oi.Key)
			}
			total++
		}
	}
	return total
}

func readObject(tb testing.TB, b objstore.Bucket, key string) string {
	tb.Helper()
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		tb.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	var sb strings.Builder
	if _, err := io.Copy(&sb, rc); err != nil {
		tb.Fatalf("read %q: %v", key, err)
	}
	return sb.String()
}

// TestSpool_TimesBeyondUnixNanos: a segment frame stores the record's time
// as int64 Unix nanoseconds, which cannot hold times before 1678 or after
// 2262; the object must still land in the hour folder of the record's
// inferenceTime.
func TestSpool_TimesBeyondUnixNanos(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
	}{
		{name: "after 2262", at: time.Date(2300, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "zero time", at: time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := newBucket(t)
			s := openSpool(t, bucket, spoolOptions(t, nil, newFakeClock(t0)))
			tr := newTracker()
			submit(t, s, tr.exchange(testPolicy("ep"), "e1", "v", tt.at, "1"))
			closeSpool(t, s)
			if got := checkObjectsInTheirHour(t, bucket); got != 1 {
				t.Errorf("%d records written, want 1", got)
			}
		})
	}
}

// encodedLen is the length of the line the spool writes for ex.
func encodedLen(tb testing.TB, ex *capture.Exchange) int {
	tb.Helper()
	return len(capture.AppendLine(nil, ex))
}

func TestSpool_RollByMaxObjectBytes(t *testing.T) {
	const limit = 1000
	bucket := newBucket(t)
	s := openSpool(t, bucket, spoolOptions(t, nil, newFakeClock(t0)))
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
		submit(t, s, ex)
	}
	closeSpool(t, s)

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
		t.Errorf("%d objects are under the size limit, want at most 1 (the last, sealed by Close)", small)
	}
	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff(ids, eventIDs(recs)); diff != "" {
		t.Errorf("records read back (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

// TestSpool_RollByMaxObjectBytesPerEndpoint: one endpoint's small limit
// seals the segment; the other endpoint's records are all still uploaded
// once.
func TestSpool_RollByMaxObjectBytesPerEndpoint(t *testing.T) {
	bucket := newBucket(t)
	s := openSpool(t, bucket, spoolOptions(t, nil, newFakeClock(t0)))
	small, big := testPolicy("small"), testPolicy("big")
	small.MaxObjectBytes = 1 // every record fills an object
	tr := newTracker()
	var want []string
	for i := range 10 {
		for _, pol := range []*capture.Policy{small, big} {
			id := fmt.Sprintf("%s-%02d", pol.Endpoint, i)
			want = append(want, id)
			submit(t, s, tr.exchange(pol, id, "v", t0.Add(time.Duration(i)*time.Second), "1,2"))
		}
	}
	closeSpool(t, s)

	counts := map[string]int{}
	for _, oi := range listKeys(t, bucket) {
		info, err := capture.ParseObjectKey(oi.Key)
		if err != nil {
			t.Fatal(err)
		}
		counts[info.Endpoint]++
	}
	if counts["small"] != 10 {
		t.Errorf("endpoint small has %d objects, want 10 (one per record)", counts["small"])
	}
	if counts["big"] < 1 || counts["big"] > 10 {
		t.Errorf("endpoint big has %d objects, want 1 to 10", counts["big"])
	}
	_, recs := scanAll(t, bucket, capture.Filter{})
	got := eventIDs(recs)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records read back (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestSpool_RollBySegmentBytes(t *testing.T) {
	const segBytes = 4096
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	opts := spoolOptions(t, reg, newFakeClock(t0))
	opts.SegmentBytes = segBytes
	s := openSpool(t, bucket, opts)
	pol := testPolicy("ep")
	tr := newTracker()
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("e%02d", i)
		ids = append(ids, id)
		submit(t, s, tr.exchange(pol, id, "v", t0.Add(time.Duration(i)*time.Second), strings.Repeat("1,", 50)))
	}
	closeSpool(t, s)

	objs := listKeys(t, bucket)
	if len(objs) < 3 {
		t.Fatalf("%d objects written, want several with SegmentBytes %d", len(objs), segBytes)
	}
	for _, oi := range objs {
		if oi.Size >= segBytes {
			t.Errorf("object %s is %d bytes, want less than a segment (%d)", oi.Key, oi.Size, segBytes)
		}
	}
	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff(ids, eventIDs(recs)); diff != "" {
		t.Errorf("records read back (-want +got):\n%s", diff)
	}
	if got := metricValue(t, reg, "glassbox_capture_objects_written_total", nil); got != float64(len(objs)) {
		t.Errorf("objects_written_total = %v, want %d", got, len(objs))
	}
	if got := readLedger(t, opts.Dir).UploadedSegments; got != uint64(len(objs)) {
		t.Errorf("ledger uploaded_segments = %d, want %d (one object per segment)", got, len(objs))
	}
	tr.checkReleasedOnce(t)
}

func TestSpool_RollByAge(t *testing.T) {
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	clock := newFakeClock(t0)
	opts := spoolOptions(t, reg, clock)
	opts.MaxSegmentAge = time.Minute
	s := openSpool(t, bucket, opts)
	pol := testPolicy("ep")
	tr := newTracker()
	gauge := func(name string) func() float64 {
		return func() float64 { return metricValue(t, reg, name, nil) }
	}
	oldest, segments := gauge("glassbox_spool_oldest_unsent_age_seconds"), gauge("glassbox_spool_segments")
	// waitTick waits until a tick has seen the clock at age, which the
	// oldest-unsent gauge (of a record stamped when its segment opened)
	// reports after the tick's age check.
	waitTick := func(age time.Duration) {
		t.Helper()
		waitFor(t, fmt.Sprintf("a tick at age %v", age), func() bool { return oldest() == age.Seconds() })
	}

	submit(t, s, tr.exchange(pol, "e1", "v", clock.Now(), "1,2"))
	waitFor(t, "the first segment to open", func() bool { return segments() == 1 })
	clock.Advance(59 * time.Second)
	waitTick(59 * time.Second)
	if objs := listKeys(t, bucket); len(objs) != 0 {
		t.Fatalf("objects written before MaxSegmentAge: %v", objs)
	}

	clock.Advance(time.Second)
	waitFor(t, "the aged segment to be uploaded", func() bool { return len(listKeys(t, bucket)) == 1 })
	waitFor(t, "no segment", func() bool { return segments() == 0 })

	// A later record starts a new segment, aged from now.
	submit(t, s, tr.exchange(pol, "e2", "v", clock.Now(), "3,4"))
	waitFor(t, "the second segment to open", func() bool { return segments() == 1 })
	clock.Advance(59 * time.Second)
	waitTick(59 * time.Second)
	if got := len(listKeys(t, bucket)); got != 1 {
		t.Fatalf("%d objects before the second segment aged, want 1", got)
	}
	clock.Advance(time.Second)
	waitFor(t, "the second segment to be uploaded", func() bool { return len(listKeys(t, bucket)) == 2 })

	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff([]string{"e1", "e2"}, eventIDs(recs)); diff != "" {
		t.Errorf("records read back (-want +got):\n%s", diff)
	}
	closeSpool(t, s)
	tr.checkReleasedOnce(t)
}

func TestSpool_QueueLimits(t *testing.T) {
	tests := []struct {
		name       string
		opts       capture.SpoolOptions
		queued     []int // body sizes accepted while the writer is stalled
		rejected   int   // body size of the exchange that does not fit
		wantReason string
	}{
		{
			name:       "records",
			opts:       capture.SpoolOptions{QueueMaxRecords: 2},
			queued:     []int{10, 10},
			rejected:   10,
			wantReason: capture.DropQueueFull,
		},
		{
			// Each exchange counts its bodies + 512 bytes: 612 + 612 fits in
			// 1500, a third does not.
			name:       "bytes",
			opts:       capture.SpoolOptions{QueueMaxBytes: 1500},
			queued:     []int{100 - len(`{"id":"q0"}`), 100 - len(`{"id":"q1"}`)},
			rejected:   100 - len(`{"id":"rejected"}`),
			wantReason: capture.DropQueueBytes,
		},
		{
			name:       "one exchange larger than the byte limit",
			opts:       capture.SpoolOptions{QueueMaxBytes: 1500},
			queued:     nil,
			rejected:   1000,
			wantReason: capture.DropQueueBytes,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := newBucket(t)
			reg := prometheus.NewRegistry()
			clock := newFakeClock(t0)
			opts := spoolOptions(t, reg, clock)
			opts.QueueMaxRecords, opts.QueueMaxBytes = tt.opts.QueueMaxRecords, tt.opts.QueueMaxBytes
			s := openSpool(t, bucket, opts)
			pol := testPolicy("ep")
			syncPol := testPolicy("ep")
			syncPol.Sync = true
			tr := newTracker()

			// A synchronous record opens a segment; then the writer stalls
			// on the clock at its next tick, with nothing in its hands.
			submit(t, s, tr.exchange(syncPol, "stall", "v", t0, "1"))
			clock.Stall(t)
			want := []string{"stall"}
			for i, n := range tt.queued {
				id := fmt.Sprintf("q%d", i)
				submit(t, s, tr.exchange(pol, id, "v", t0.Add(time.Duration(i+1)*time.Second), strings.Repeat("x", n)))
				want = append(want, id)
			}
			if got := metricValue(t, reg, "glassbox_capture_queue_records", nil); got != float64(len(tt.queued)) {
				t.Errorf("queue_records = %v, want %d", got, len(tt.queued))
			}

			err := s.Submit(context.Background(), tr.exchange(pol, "rejected", "v", t0, strings.Repeat("x", tt.rejected)))
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

			clock.Resume()
			closeSpool(t, s)
			_, recs := scanAll(t, bucket, capture.Filter{})
			if diff := cmp.Diff(want, eventIDs(recs)); diff != "" {
				t.Errorf("records written (-want +got):\n%s", diff)
			}
			tr.checkReleasedOnce(t)
		})
	}
}

// TestSpool_QueueConservation: with a one-record queue and many concurrent
// asynchronous submitters, every exchange is either written (and uploaded)
// or dropped and counted, and Submit's answer says which.
func TestSpool_QueueConservation(t *testing.T) {
	const goroutines, perGoroutine = 8, 50
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	opts := spoolOptions(t, reg, newFakeClock(t0))
	opts.QueueMaxRecords = 1
	s := openSpool(t, bucket, opts)
	pol := testPolicy("ep")
	tr := newTracker()

	var mu sync.Mutex
	accepted := map[string]bool{}
	refused := 0
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				id := fmt.Sprintf("g%d-%03d", g, i)
				err := s.Submit(context.Background(), tr.exchange(pol, id, "v", t0, "1,2"))
				mu.Lock()
				switch {
				case err == nil:
					accepted[id] = true
				case errors.Is(err, capture.ErrQueueFull):
					refused++
				default:
					t.Errorf("Submit(%s) = %v, want nil or ErrQueueFull", id, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	closeSpool(t, s)

	ep := map[string]string{"endpoint": "ep"}
	written := metricValue(t, reg, "glassbox_capture_records_written_total", ep)
	dropped := metricValue(t, reg, "glassbox_capture_records_dropped_total", map[string]string{"endpoint": "ep", "reason": capture.DropQueueFull})
	t.Logf("written %v, dropped %v", written, dropped)
	if written+dropped != goroutines*perGoroutine {
		t.Errorf("written %v + dropped %v = %v, want %d submitted", written, dropped, written+dropped, goroutines*perGoroutine)
	}
	if dropped != float64(refused) {
		t.Errorf("records_dropped_total{reason=queue_full} = %v, want %d (the ErrQueueFull answers)", dropped, refused)
	}
	if written != float64(len(accepted)) {
		t.Errorf("records_written_total = %v, want %d (the nil answers)", written, len(accepted))
	}
	_, recs := scanAll(t, bucket, capture.Filter{})
	got := map[string]bool{}
	for _, id := range eventIDs(recs) {
		if got[id] {
			t.Errorf("event %s uploaded twice", id)
		}
		got[id] = true
	}
	if diff := cmp.Diff(accepted, got); diff != "" {
		t.Errorf("uploaded records differ from the accepted ones (-accepted +uploaded):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestSpool_SubmitAfterClose(t *testing.T) {
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	s := openSpool(t, bucket, spoolOptions(t, reg, nil))
	pol := testPolicy("ep")
	syncPol := testPolicy("ep")
	syncPol.Sync = true
	tr := newTracker()
	submit(t, s, tr.exchange(pol, "before", "v", t0, "1"))
	closeSpool(t, s)

	for _, p := range []*capture.Policy{pol, syncPol} {
		id := fmt.Sprintf("after-sync=%v", p.Sync)
		if err := s.Submit(context.Background(), tr.exchange(p, id, "v", t0, "2")); !errors.Is(err, capture.ErrClosed) {
			t.Errorf("Submit(%s) after Close = %v, want ErrClosed", id, err)
		}
	}
	labels := map[string]string{"endpoint": "ep", "reason": capture.DropClosed}
	if got := metricValue(t, reg, "glassbox_capture_records_dropped_total", labels); got != 2 {
		t.Errorf("records_dropped_total{reason=closed} = %v, want 2", got)
	}
	// A second Close is harmless.
	closeSpool(t, s)

	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff([]string{"before"}, eventIDs(recs)); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

func TestSpool_CloseContextEnds(t *testing.T) {
	bucket := newBucket(t)
	clock := newFakeClock(t0)
	s := openSpool(t, bucket, spoolOptions(t, nil, clock))
	pol := testPolicy("ep")
	syncPol := testPolicy("ep")
	syncPol.Sync = true
	tr := newTracker()
	submit(t, s, tr.exchange(syncPol, "e1", "v", t0, "1"))
	clock.Stall(t)
	submit(t, s, tr.exchange(pol, "e2", "v", t0.Add(time.Second), "2"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a stalled writer = %v, want context.DeadlineExceeded", err)
	}
	if err := s.Submit(context.Background(), tr.exchange(pol, "e3", "v", t0, "3")); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Submit after a timed-out Close = %v, want ErrClosed", err)
	}

	clock.Resume()
	closeSpool(t, s)
	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff([]string{"e1", "e2"}, eventIDs(recs)); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

// TestSpool_SyncSubmitContextEnds: a synchronous Submit whose context ends
// returns its error; the exchange is released exactly once either way, and
// its record is written only if it reached the queue.
func TestSpool_SyncSubmitContextEnds(t *testing.T) {
	tests := []struct {
		name       string
		queueFull  bool // the context ends while waiting for room in the queue
		wantStored bool
	}{
		{name: "waiting for the queue", queueFull: true, wantStored: false},
		{name: "waiting for the fsync", queueFull: false, wantStored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := newBucket(t)
			reg := prometheus.NewRegistry()
			clock := newFakeClock(t0)
			opts := spoolOptions(t, reg, clock)
			opts.QueueMaxRecords = 1
			s := openSpool(t, bucket, opts)
			pol := testPolicy("ep")
			syncPol := testPolicy("ep")
			syncPol.Sync = true
			tr := newTracker()
			submit(t, s, tr.exchange(syncPol, "first", "v", t0, "1"))
			clock.Stall(t)
			want := []string{"first"}
			if tt.queueFull {
				submit(t, s, tr.exchange(pol, "filler", "v", t0, "2"))
				want = append(want, "filler")
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if err := s.Submit(ctx, tr.exchange(syncPol, "late", "v", t0.Add(time.Second), "3")); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Submit with an ending context = %v, want context.DeadlineExceeded", err)
			}
			if tt.wantStored {
				want = append(want, "late")
			}
			clock.Resume()
			closeSpool(t, s)
			_, recs := scanAll(t, bucket, capture.Filter{})
			if diff := cmp.Diff(want, eventIDs(recs)); diff != "" {
				t.Errorf("records written (-want +got):\n%s", diff)
			}
			tr.checkReleasedOnce(t)
		})
	}
}

// TestSpool_GroupCommit: synchronous records queued together share one
// fsync.
func TestSpool_GroupCommit(t *testing.T) { bothSpoolModes(t, testSpoolGroupCommit) }

func testSpoolGroupCommit(t *testing.T) {
	const n = 64
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	clock := newFakeClock(t0)
	s := openSpool(t, bucket, spoolOptions(t, reg, clock))
	pol := testPolicy("ep")
	pol.Sync = true
	tr := newTracker()
	fsyncs := func() float64 { return metricValue(t, reg, "glassbox_spool_fsyncs_total", nil) }

	submit(t, s, tr.exchange(pol, "first", "v", t0, "1"))
	before := fsyncs()
	// Stall the writer so that the n requests are all queued when it
	// wakes up, however the goroutines are scheduled.
	clock.Stall(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("e%02d", i)
			if err := s.Submit(context.Background(), tr.exchange(pol, id, "v", t0, "1")); err != nil {
				errs <- fmt.Errorf("Submit(%s): %w", id, err)
			}
		})
	}
	waitFor(t, "every request queued", func() bool {
		return metricValue(t, reg, "glassbox_capture_queue_records", nil) == n
	})
	clock.Resume()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := fsyncs() - before
	t.Logf("%d synchronous records took %v fsyncs", n, got)
	if got >= n {
		t.Errorf("%d synchronous records took %v fsyncs, want fewer: one fsync should cover all records written since the last", n, got)
	}
	if got != 1 {
		t.Errorf("%d synchronous records queued together took %v fsyncs, want 1", n, got)
	}
	closeSpool(t, s)
	if _, recs := scanAll(t, bucket, capture.Filter{}); len(recs) != n+1 {
		t.Errorf("%d records uploaded, want %d", len(recs), n+1)
	}
	tr.checkReleasedOnce(t)
}

// TestSpool_UploadRetried: a failed upload is retried, with back-off, while
// the spool runs.
func TestSpool_UploadRetried(t *testing.T) { bothSpoolModes(t, testSpoolUploadRetried) }

func testSpoolUploadRetried(t *testing.T) {
	inner := newBucket(t)
	bucket := &faultyBucket{Bucket: inner, fail: func(call int) bool { return call <= 2 }}
	reg := prometheus.NewRegistry()
	clock := newFakeClock(t0)
	opts := spoolOptions(t, reg, clock)
	opts.MaxSegmentAge = time.Minute
	s := openSpool(t, bucket, opts)
	pol := testPolicy("ep")
	tr := newTracker()
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		submit(t, s, tr.exchange(pol, id, "v", t0.Add(time.Duration(i)*time.Second), "1,2"))
	}
	ep := map[string]string{"endpoint": "ep"}
	waitFor(t, "3 records written", func() bool {
		return metricValue(t, reg, "glassbox_capture_records_written_total", ep) == 3
	})
	clock.Advance(time.Minute)
	waitFor(t, "the segment to be uploaded", func() bool {
		return metricValue(t, reg, "glassbox_capture_records_uploaded_total", ep) == 3
	})
	if files := segmentFiles(t, opts.Dir); len(files) != 0 {
		t.Errorf("segment files after the upload = %v, want none", files)
	}

	if got := len(bucket.putKeys()); got != 3 {
		t.Errorf("Put called %d times, want 3 (2 failures, 1 success)", got)
	}
	for result, want := range map[string]float64{"failed": 2, "ok": 1} {
		if got := metricValue(t, reg, "glassbox_upload_objects_total", map[string]string{"result": result}); got != want {
			t.Errorf("upload_objects_total{result=%s} = %v, want %v", result, got, want)
		}
	}
	_, recs := scanAll(t, inner, capture.Filter{})
	if diff := cmp.Diff(ids, eventIDs(recs)); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	closeSpool(t, s)
	tr.checkReleasedOnce(t)
}

// TestSpool_CloseRetriesUpload: Close keeps retrying a failing upload until
// its context ends.
func TestSpool_CloseRetriesUpload(t *testing.T) {
	inner := newBucket(t)
	bucket := &faultyBucket{Bucket: inner, fail: func(call int) bool { return call <= 2 }}
	reg := prometheus.NewRegistry()
	s := openSpool(t, bucket, spoolOptions(t, reg, newFakeClock(t0)))
	pol := testPolicy("ep")
	tr := newTracker()
	submit(t, s, tr.exchange(pol, "e1", "v", t0, "1"))
	submit(t, s, tr.exchange(pol, "e2", "v", t0, "2"))
	closeSpool(t, s)

	if got := metricValue(t, reg, "glassbox_upload_objects_total", map[string]string{"result": "failed"}); got != 2 {
		t.Errorf("upload_objects_total{result=failed} = %v, want 2", got)
	}
	_, recs := scanAll(t, inner, capture.Filter{})
	if diff := cmp.Diff([]string{"e1", "e2"}, eventIDs(recs)); diff != "" {
		t.Errorf("records written (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

// TestSpool_SegmentKeptUntilUploaded: while the blob store fails, the
// segment stays on disk and in the gauges; Close gives up when its context
// ends and says what is left; the next start uploads it.
func TestSpool_SegmentKeptUntilUploaded(t *testing.T) {
	bothSpoolModes(t, testSpoolSegmentKeptUntilUploaded)
}

func testSpoolSegmentKeptUntilUploaded(t *testing.T) {
	inner := newBucket(t)
	bucket := &switchBucket{Bucket: inner}
	bucket.failing.Store(true)
	reg := prometheus.NewRegistry()
	clock := newFakeClock(t0)
	opts := spoolOptions(t, reg, clock)
	opts.MaxSegmentAge = time.Minute
	s := openSpool(t, bucket, opts)
	pol := testPolicy("ep")
	pol.Sync = true
	tr := newTracker()
	for i, v := range []string{"a", "b", "a"} {
		submit(t, s, tr.exchange(pol, fmt.Sprintf("e%d", i), v, clock.Now(), "1,2"))
	}
	clock.Advance(time.Minute) // seals the segment
	waitFor(t, "a few failed uploads", func() bool { return bucket.failed.Load() >= 3 })

	files := segmentFiles(t, opts.Dir)
	if len(files) != 1 {
		t.Fatalf("segment files = %v, want 1 while the upload fails", files)
	}
	fi, err := os.Stat(filepath.Join(opts.Dir, "segments", files[0]))
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name string) float64 { return metricValue(t, reg, name, nil) }
	for name, want := range map[string]float64{
		"glassbox_spool_bytes":    float64(fi.Size()),
		"glassbox_spool_records":  3,
		"glassbox_spool_segments": 1,
	} {
		if got := gauge(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	const oldest = "glassbox_spool_oldest_unsent_age_seconds"
	waitFor(t, "oldest unsent age 60 s", func() bool { return gauge(oldest) == 60 })
	clock.Advance(30 * time.Second)
	waitFor(t, "oldest unsent age 90 s", func() bool { return gauge(oldest) == 90 })
	if got := metricValue(t, reg, "glassbox_capture_records_uploaded_total", nil); got != 0 {
		t.Errorf("records_uploaded_total = %v while every Put fails, want 0", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = s.Close(ctx)
	if err == nil {
		t.Fatal("Close with a failing blob store = nil, want an error about the unsent segment")
	}
	for _, want := range []string{"1 segments", "3 records", opts.Dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Close error %q does not mention %q", err, want)
		}
	}
	if got := segmentFiles(t, opts.Dir); !slices.Equal(got, files) {
		t.Errorf("segment files after Close = %v, want %v kept", got, files)
	}
	if keys := objectKeys(t, inner); len(keys) != 0 {
		t.Errorf("objects in the blob store = %v, want none", keys)
	}
	tr.checkReleasedOnce(t)

	// The next start uploads the segment.
	reg2 := prometheus.NewRegistry()
	opts2 := opts
	opts2.Metrics = capture.NewMetrics(reg2)
	s2 := openSpool(t, inner, opts2)
	closeSpool(t, s2)
	_, recs := scanAll(t, inner, capture.Filter{})
	got := eventIDs(recs)
	slices.Sort(got)
	if diff := cmp.Diff([]string{"e0", "e1", "e2"}, got); diff != "" {
		t.Errorf("records uploaded at the next start (-want +got):\n%s", diff)
	}
	if files := segmentFiles(t, opts.Dir); len(files) != 0 {
		t.Errorf("segment files left after uploading = %v", files)
	}
	if got := readLedger(t, opts.Dir).UploadedRecords; got != 3 {
		t.Errorf("ledger uploaded_records = %d, want 3", got)
	}
}

// TestSpool_CloseAgainReportsUnsent: a Close after a Close that gave up
// still reports the segments left in the spool instead of success.
func TestSpool_CloseAgainReportsUnsent(t *testing.T) {
	bucket := &switchBucket{Bucket: newBucket(t)}
	bucket.failing.Store(true)
	s := openSpool(t, bucket, spoolOptions(t, nil, newFakeClock(t0)))
	tr := newTracker()
	submit(t, s, tr.exchange(testPolicy("ep"), "e1", "v", t0, "1"))
	for i := range 2 {
		// The deadline only has to outlast sealing the segment; a loaded
		// machine needs more than a few milliseconds for that.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := s.Close(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "1 records") {
			t.Errorf("Close #%d with a segment left = %v, want an error counting 1 record", i+1, err)
		}
	}
}

// TestSpool_SyncSubmitSurvivesCrash: once a synchronous Submit returns, the
// spool folder as it is on disk holds the record: a copy of it taken then,
// as a crash would leave it, is uploaded by a spool opened on it.
func TestSpool_SyncSubmitSurvivesCrash(t *testing.T) {
	bothSpoolModes(t, testSpoolSyncSubmitSurvivesCrash)
}

func testSpoolSyncSubmitSurvivesCrash(t *testing.T) {
	opts := spoolOptions(t, nil, newFakeClock(t0))
	s := openSpool(t, &switchBucket{Bucket: newBucket(t)}, opts)
	pol := testPolicy("ep")
	pol.Sync = true
	tr := newTracker()
	submit(t, s, tr.exchange(pol, "e1", "v", t0, "1"))
	submit(t, s, tr.exchange(pol, "e2", "v", t0, "2"))
	crashed := t.TempDir()
	copyFiles(t, opts.Dir, crashed) // the active segment, never sealed
	closeSpool(t, s)

	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	opts2 := spoolOptions(t, reg, nil)
	opts2.Dir = crashed
	s2 := openSpool(t, bucket, opts2)
	closeSpool(t, s2)
	_, recs := scanAll(t, bucket, capture.Filter{})
	if diff := cmp.Diff([]string{"e1", "e2"}, eventIDs(recs)); diff != "" {
		t.Errorf("records recovered (-want +got):\n%s", diff)
	}
	if got := metricValue(t, reg, "glassbox_spool_torn_records_discarded_total", nil); got != 0 {
		t.Errorf("torn_records_discarded_total = %v, want 0", got)
	}
	tr.checkReleasedOnce(t)
}

// TestSpool_ExactlyOnceAfterFailedPut: when a segment's upload fails after
// some of its objects were stored, the retry overwrites them under the same
// keys instead of adding duplicates.
func TestSpool_ExactlyOnceAfterFailedPut(t *testing.T) {
	bothSpoolModes(t, testSpoolExactlyOnceAfterFailedPut)
}

func testSpoolExactlyOnceAfterFailedPut(t *testing.T) {
	inner := newBucket(t)
	bucket := &faultyBucket{Bucket: inner, fail: func(call int) bool { return call == 2 }}
	reg := prometheus.NewRegistry()
	s := openSpool(t, bucket, spoolOptions(t, reg, newFakeClock(t0)))
	pol := testPolicy("ep")
	tr := newTracker()
	var ids []string
	for i := range 6 {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		submit(t, s, tr.exchange(pol, id, []string{"a", "b"}[i%2], t0.Add(time.Duration(i)*time.Second), "1"))
	}
	closeSpool(t, s)

	keys := bucket.putKeys()
	if len(keys) != 4 {
		t.Fatalf("Put keys = %v, want 4 calls (a, b failing, a again, b)", keys)
	}
	if keys[0] != keys[2] || keys[1] != keys[3] || keys[0] == keys[1] {
		t.Errorf("Put keys = %v, want the retry to repeat the keys of the first attempt", keys)
	}
	wantKeys := []string{keys[0], keys[1]}
	slices.Sort(wantKeys)
	if diff := cmp.Diff(wantKeys, objectKeys(t, inner)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	_, recs := scanAll(t, inner, capture.Filter{})
	got := eventIDs(recs)
	slices.Sort(got)
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("records in the blob store (-want +got):\n%s", diff)
	}
	ep := map[string]string{"endpoint": "ep"}
	if got := metricValue(t, reg, "glassbox_capture_records_uploaded_total", ep); got != 6 {
		t.Errorf("records_uploaded_total = %v, want 6", got)
	}
	for result, want := range map[string]float64{"failed": 1, "ok": 3} {
		if got := metricValue(t, reg, "glassbox_upload_objects_total", map[string]string{"result": result}); got != want {
			t.Errorf("upload_objects_total{result=%s} = %v, want %v", result, got, want)
		}
	}
	tr.checkReleasedOnce(t)
}

// TestSpool_ExactlyOnceAfterCrashBeforeDelete: a segment whose objects were
// all stored but which a crash left on disk is uploaded again at the next
// start under the same keys.
func TestSpool_ExactlyOnceAfterCrashBeforeDelete(t *testing.T) {
	bothSpoolModes(t, testSpoolExactlyOnceAfterCrashBeforeDelete)
}

func testSpoolExactlyOnceAfterCrashBeforeDelete(t *testing.T) {
	bucket := newBucket(t)
	opts := spoolOptions(t, nil, newFakeClock(t0))
	s := openSpool(t, bucket, opts)
	pol := testPolicy("ep")
	pol.Sync = true
	tr := newTracker()
	for i, v := range []string{"a", "b", "a"} {
		submit(t, s, tr.exchange(pol, fmt.Sprintf("e%d", i), v, t0.Add(time.Duration(i)*time.Second), "1"))
	}
	files := segmentFiles(t, opts.Dir)
	if len(files) != 1 {
		t.Fatalf("segment files = %v, want 1", files)
	}
	path := filepath.Join(opts.Dir, "segments", files[0])
	seg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)
	keys := objectKeys(t, bucket)
	if len(keys) != 2 {
		t.Fatalf("objects = %v, want 2", keys)
	}

	// The crash: the segment is still there at the next start.
	if err := os.WriteFile(path, seg, 0o640); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	opts2 := opts
	opts2.Metrics = capture.NewMetrics(reg)
	s2 := openSpool(t, bucket, opts2)
	closeSpool(t, s2)

	if got := metricValue(t, reg, "glassbox_upload_objects_total", map[string]string{"result": "ok"}); got != 2 {
		t.Errorf("upload_objects_total{result=ok} = %v at the next start, want 2 (the segment uploaded again)", got)
	}
	if diff := cmp.Diff(keys, objectKeys(t, bucket)); diff != "" {
		t.Errorf("objects after uploading the segment again (-before +after):\n%s", diff)
	}
	_, recs := scanAll(t, bucket, capture.Filter{})
	got := eventIDs(recs)
	slices.Sort(got)
	if diff := cmp.Diff([]string{"e0", "e1", "e2"}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if files := segmentFiles(t, opts.Dir); len(files) != 0 {
		t.Errorf("segment files left = %v", files)
	}
}

// TestSpool_SegmentNumbersNeverReused: the ledger keeps the next segment
// number across restarts even when no segment is left, so a new segment's
// objects never take the keys of an old one's.
func TestSpool_SegmentNumbersNeverReused(t *testing.T) {
	bothSpoolModes(t, testSpoolSegmentNumbersNeverReused)
}

func testSpoolSegmentNumbersNeverReused(t *testing.T) {
	bucket := newBucket(t)
	// The same clock reading for both runs: only the segment number tells
	// the two segments apart.
	opts := spoolOptions(t, nil, newFakeClock(t0))
	pol := testPolicy("ep")
	pol.Sync = true
	tr := newTracker()

	var ledgers []ledgerFile
	var keys [][]string
	for run := range 3 {
		s := openSpool(t, bucket, opts)
		submit(t, s, tr.exchange(pol, fmt.Sprintf("run%d", run), "v", t0, "1"))
		closeSpool(t, s)
		if files := segmentFiles(t, opts.Dir); len(files) != 0 {
			t.Fatalf("run %d: segment files left = %v", run, files)
		}
		ledgers = append(ledgers, readLedger(t, opts.Dir))
		keys = append(keys, objectKeys(t, bucket))
	}
	for run := 1; run < len(ledgers); run++ {
		prev, cur := ledgers[run-1], ledgers[run]
		if cur.SpoolID != prev.SpoolID || cur.SpoolID == "" {
			t.Errorf("run %d: spool id %q, want %q kept", run, cur.SpoolID, prev.SpoolID)
		}
		if cur.NextSegment <= prev.NextSegment {
			t.Errorf("run %d: next_segment %d, want more than %d", run, cur.NextSegment, prev.NextSegment)
		}
		if got, want := len(keys[run]), len(keys[run-1])+1; got != want {
			t.Errorf("run %d: %d objects %v, want %d (a new key)", run, got, keys[run], want)
		}
	}
	if got := ledgers[len(ledgers)-1]; got.UploadedSegments != 3 || got.UploadedRecords != 3 {
		t.Errorf("ledger uploaded_segments, uploaded_records = %d, %d; want 3, 3", got.UploadedSegments, got.UploadedRecords)
	}
	_, recs := scanAll(t, bucket, capture.Filter{})
	got := eventIDs(recs)
	slices.Sort(got)
	if diff := cmp.Diff([]string{"run0", "run1", "run2"}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestSpool_Full: while the blob store is down, the spool fills up to
// MaxBytes; then asynchronous records are dropped and counted, Admit refuses
// exchanges of endpoints that reject when full, and synchronous Submits
// fail. Once the blob store is back, the backlog drains and records are
// accepted again.
func TestSpool_Full(t *testing.T) { bothSpoolModes(t, testSpoolFull) }

func testSpoolFull(t *testing.T) {
	inner := newBucket(t)
	bucket := &switchBucket{Bucket: inner}
	bucket.failing.Store(true)
	reg := prometheus.NewRegistry()
	opts := spoolOptions(t, reg, newFakeClock(t0))
	opts.MaxBytes = 64 << 10
	opts.SegmentBytes = 8 << 10
	opts.UploadRetryMax = 5 * time.Millisecond
	s := openSpool(t, bucket, opts)
	shed := testPolicy("shed")
	strict := testPolicy("strict")
	strict.Sync, strict.RejectWhenFull = true, true
	tr := newTracker()
	body := strings.Repeat("1,", 500)
	count := func(name, endpoint, reason string) float64 {
		labels := map[string]string{"endpoint": endpoint}
		if reason != "" {
			labels["reason"] = reason
		}
		return metricValue(t, reg, name, labels)
	}
	const written, dropped, rejected = "glassbox_capture_records_written_total", "glassbox_capture_records_dropped_total", "glassbox_capture_rejected_total"

	if err := s.Admit(strict); err != nil {
		t.Fatalf("Admit on an empty spool = %v, want nil", err)
	}
	var stored []string
	for i := 0; count(dropped, "shed", capture.DropSpoolFull) < 3; i++ {
		if i == 200 {
			t.Fatalf("200 records of %d bytes did not fill a spool of %d bytes", len(body), opts.MaxBytes)
		}
		id := fmt.Sprintf("s%03d", i)
		submit(t, s, tr.exchange(shed, id, "v", t0, body))
		waitFor(t, id+" to be written or dropped", func() bool {
			return count(written, "shed", "")+count(dropped, "shed", capture.DropSpoolFull) == float64(i+1)
		})
		if count(written, "shed", "") == float64(len(stored)+1) {
			stored = append(stored, id)
		}
	}
	waitFor(t, fmt.Sprintf("spool_bytes to reach %d", opts.MaxBytes), func() bool {
		return metricValue(t, reg, "glassbox_spool_bytes", nil) >= float64(opts.MaxBytes)
	})

	err := s.Admit(strict)
	if code := glassbox.ErrorCode(err); code != glassbox.EUnavailable || !errors.Is(err, capture.ErrSpoolFull) {
		t.Errorf("Admit(reject when full) on a full spool = %v (code %q), want ErrSpoolFull with code %q", err, code, glassbox.EUnavailable)
	}
	if got := count(rejected, "strict", capture.DropSpoolFull); got != 1 {
		t.Errorf("rejected_total{endpoint=strict,reason=spool_full} = %v, want 1", got)
	}
	if err := s.Admit(shed); err != nil {
		t.Errorf("Admit(shed) on a full spool = %v, want nil", err)
	}
	err = s.Submit(context.Background(), tr.exchange(strict, "refused", "v", t0, "1"))
	if code := glassbox.ErrorCode(err); code != glassbox.EUnavailable || !errors.Is(err, capture.ErrSpoolFull) {
		t.Errorf("synchronous Submit on a full spool = %v (code %q), want ErrSpoolFull with code %q", err, code, glassbox.EUnavailable)
	}
	if got := count(rejected, "strict", capture.DropSpoolFull); got != 2 {
		t.Errorf("rejected_total{endpoint=strict,reason=spool_full} = %v, want 2", got)
	}

	bucket.failing.Store(false)
	waitFor(t, "Admit to accept again", func() bool { return s.Admit(strict) == nil })
	submit(t, s, tr.exchange(strict, "after", "v", t0, "1"))
	submit(t, s, tr.exchange(shed, "after-shed", "v", t0, "1"))
	closeSpool(t, s)

	_, recs := scanAll(t, inner, capture.Filter{})
	got := eventIDs(recs)
	want := append(stored, "after", "after-shed")
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records uploaded (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

// breakLedger makes the spool's ledger unwritable, even for root, by putting
// a non-empty folder where the ledger's temporary file goes; every new
// segment then fails to open. The returned function repairs it.
func breakLedger(tb testing.TB, dir string) (repair func()) {
	tb.Helper()
	tmp := filepath.Join(dir, ".ledger.json.tmp")
	if err := os.MkdirAll(filepath.Join(tmp, "blocker"), 0o750); err != nil {
		tb.Fatal(err)
	}
	return func() {
		if err := os.RemoveAll(tmp); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestSpool_WriteError: when the spool cannot be written, synchronous
// Submits fail with EUnavailable, asynchronous records are dropped and
// counted, and Admit refuses for endpoints that reject; once a record is
// written again, everything works.
func TestSpool_WriteError(t *testing.T) {
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	opts := spoolOptions(t, reg, newFakeClock(t0))
	s := openSpool(t, bucket, opts)
	shed := testPolicy("shed")
	strict := testPolicy("strict")
	strict.Sync, strict.RejectWhenFull = true, true
	tr := newTracker()
	repair := breakLedger(t, opts.Dir)

	err := s.Submit(context.Background(), tr.exchange(strict, "sync-lost", "v", t0, "1"))
	if code := glassbox.ErrorCode(err); code != glassbox.EUnavailable {
		t.Errorf("synchronous Submit on an unwritable spool = %v (code %q), want code %q", err, code, glassbox.EUnavailable)
	}
	labels := func(ep, reason string) map[string]string { return map[string]string{"endpoint": ep, "reason": reason} }
	if got := metricValue(t, reg, "glassbox_capture_rejected_total", labels("strict", capture.DropSpoolError)); got != 1 {
		t.Errorf("rejected_total{reason=spool_error} = %v, want 1", got)
	}
	submit(t, s, tr.exchange(shed, "async-lost", "v", t0, "1"))
	waitFor(t, "the asynchronous record to be dropped", func() bool {
		return metricValue(t, reg, "glassbox_capture_records_dropped_total", labels("shed", capture.DropSpoolError)) == 1
	})
	if got := metricValue(t, reg, "glassbox_spool_write_errors_total", nil); got < 2 {
		t.Errorf("spool_write_errors_total = %v, want at least 2", got)
	}
	if code := glassbox.ErrorCode(s.Admit(strict)); code != glassbox.EUnavailable {
		t.Errorf("Admit(reject when full) on an unwritable spool: code %q, want %q", code, glassbox.EUnavailable)
	}
	if err := s.Admit(shed); err != nil {
		t.Errorf("Admit(shed) on an unwritable spool = %v, want nil", err)
	}

	repair()
	submit(t, s, tr.exchange(shed, "async-ok", "v", t0, "1"))
	submit(t, s, tr.exchange(strict, "sync-ok", "v", t0, "1"))
	if err := s.Admit(strict); err != nil {
		t.Errorf("Admit(reject when full) once the spool is written again = %v, want nil", err)
	}
	closeSpool(t, s)
	_, recs := scanAll(t, bucket, capture.Filter{})
	got := eventIDs(recs)
	slices.Sort(got)
	if diff := cmp.Diff([]string{"async-ok", "sync-ok"}, got); diff != "" {
		t.Errorf("records uploaded (-want +got):\n%s", diff)
	}
	tr.checkReleasedOnce(t)
}

// TestSpool_AdmitRecoversAfterWriteError: when every endpoint rejects while
// the spool fails, no record reaches the writer to prove the disk works
// again; Admit must still accept once it does.
func TestSpool_AdmitRecoversAfterWriteError(t *testing.T) {
	clock := newFakeClock(t0)
	opts := spoolOptions(t, nil, clock)
	s := openSpool(t, newBucket(t), opts)
	strict := testPolicy("strict")
	strict.Sync, strict.RejectWhenFull = true, true
	tr := newTracker()
	repair := breakLedger(t, opts.Dir)
	if err := s.Submit(context.Background(), tr.exchange(strict, "lost", "v", t0, "1")); err == nil {
		t.Fatal("Submit on an unwritable spool = nil, want an error")
	}
	if err := s.Admit(strict); err == nil {
		t.Fatal("Admit on an unwritable spool = nil, want an error")
	}
	repair()
	// The spool may retry the disk on its own schedule: let its clock run.
	waitFor(t, "Admit to accept once the spool is writable", func() bool {
		clock.Advance(time.Second)
		return s.Admit(strict) == nil
	})
	closeSpool(t, s)
}

func TestOpenSpool_Unwritable(t *testing.T) {
	tests := []struct {
		name     string
		rootOK   bool // the case still holds when running as root
		setup    func(t *testing.T) string
		wantText string
	}{
		{
			name:   "below a regular file",
			rootOK: true,
			setup: func(t *testing.T) string {
				f := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(f, []byte("x"), 0o640); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(f, "spool")
			},
		},
		{
			name: "read-only folder",
			setup: func(t *testing.T) string {
				dir := filepath.Join(t.TempDir(), "spool")
				if err := os.Mkdir(dir, 0o500); err != nil {
					t.Fatal(err)
				}
				return dir
			},
		},
		{
			name: "read-only segments folder",
			setup: func(t *testing.T) string {
				dir := filepath.Join(t.TempDir(), "spool")
				if err := os.MkdirAll(filepath.Join(dir, "segments"), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, "segments"), 0o500); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantText: "not writable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.rootOK && os.Geteuid() == 0 {
				t.Skip("root ignores folder permissions (as in CI); the path-under-a-file case covers an unwritable spool")
			}
			dir := tt.setup(t)
			opts := spoolOptions(t, nil, nil)
			opts.Dir = dir
			s, err := capture.OpenSpool(newBucket(t), opts)
			if err == nil {
				_ = s.Close(context.Background())
				t.Fatalf("OpenSpool(%s) = nil error, want one", dir)
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("OpenSpool error %q, want it to name the folder %s and say %q", err, dir, tt.wantText)
			}
		})
	}
}

func TestOpenSpool_DamagedLedger(t *testing.T) {
	tests := []struct {
		name   string
		ledger string
	}{
		{name: "empty", ledger: ""},
		{name: "not json", ledger: "{\"version\": 1, \"spool_id\": "},
		{name: "unknown version", ledger: `{"version": 2, "spool_id": "a", "next_segment": 3}`},
		{name: "no spool id", ledger: `{"version": 1, "next_segment": 3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := spoolOptions(t, nil, nil)
			path := filepath.Join(opts.Dir, "ledger.json")
			if err := os.WriteFile(path, []byte(tt.ledger), 0o640); err != nil {
				t.Fatal(err)
			}
			s, err := capture.OpenSpool(newBucket(t), opts)
			if err == nil {
				_ = s.Close(context.Background())
				t.Fatal("OpenSpool with a damaged ledger = nil error, want one")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("OpenSpool error %q does not name the ledger %s", err, path)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.ledger {
				t.Errorf("the damaged ledger was changed to %q", b)
			}
		})
	}
}

func TestOpenSpool_NoFolder(t *testing.T) {
	if _, err := capture.OpenSpool(newBucket(t), capture.SpoolOptions{}); err == nil {
		t.Error("OpenSpool without a folder = nil error, want one")
	}
}

// TestSpool_DamagedSealedSegment: a sealed segment damaged on disk while
// its upload is retried has its good records uploaded; the damage is
// counted once, and the spool's byte count returns to zero.
func TestSpool_DamagedSealedSegment(t *testing.T) { bothSpoolModes(t, testSpoolDamagedSealedSegment) }

func testSpoolDamagedSealedSegment(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(b []byte) []byte
		wantIDs []string
	}{
		{
			name:    "bit flip in the last record",
			damage:  func(b []byte) []byte { b[len(b)-2] ^= 0x20; return b },
			wantIDs: []string{"e0", "e1"},
		},
		{
			name:    "last record cut short",
			damage:  func(b []byte) []byte { return b[:len(b)-10] },
			wantIDs: []string{"e0", "e1"},
		},
		{
			name:    "garbage after the last record",
			damage:  func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 1, 2, 3) },
			wantIDs: []string{"e0", "e1", "e2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := newBucket(t)
			bucket := &switchBucket{Bucket: inner}
			bucket.failing.Store(true)
			reg := prometheus.NewRegistry()
			clock := newFakeClock(t0)
			opts := spoolOptions(t, reg, clock)
			opts.MaxSegmentAge = time.Minute
			s := openSpool(t, bucket, opts)
			pol := testPolicy("ep")
			pol.Sync = true
			tr := newTracker()
			for i := range 3 {
				submit(t, s, tr.exchange(pol, fmt.Sprintf("e%d", i), "v", t0, "1,2"))
			}
			clock.Advance(time.Minute) // seals the segment
			waitFor(t, "a failed upload", func() bool { return bucket.failed.Load() >= 1 })

			files := segmentFiles(t, opts.Dir)
			if len(files) != 1 {
				t.Fatalf("segment files = %v, want 1", files)
			}
			path := filepath.Join(opts.Dir, "segments", files[0])
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Replace the file in one step: the uploader may be reading it.
			tmp := filepath.Join(t.TempDir(), "damaged")
			if err := os.WriteFile(tmp, tt.damage(b), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			// Two more failed attempts: the second one read the damaged file.
			after := bucket.failed.Load()
			waitFor(t, "two more failed uploads", func() bool { return bucket.failed.Load() >= after+2 })
			bucket.failing.Store(false)
			waitFor(t, "the segment to be uploaded", func() bool {
				return metricValue(t, reg, "glassbox_spool_segments", nil) == 0
			})

			if got := metricValue(t, reg, "glassbox_spool_bytes", nil); got != 0 {
				t.Errorf("spool_bytes after uploading the damaged segment = %v, want 0", got)
			}
			if got := metricValue(t, reg, "glassbox_spool_torn_records_discarded_total", nil); got != 1 {
				t.Errorf("torn_records_discarded_total = %v, want 1 (one damaged tail, however often its upload is tried)", got)
			}
			_, recs := scanAll(t, inner, capture.Filter{})
			if diff := cmp.Diff(tt.wantIDs, eventIDs(recs)); diff != "" {
				t.Errorf("records uploaded (-want +got):\n%s", diff)
			}
			closeSpool(t, s)
		})
	}
}
