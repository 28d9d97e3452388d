package capture

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

// it0 is a fixed invocation time in the middle of a UTC hour.
var it0 = time.Date(2024, 5, 2, 14, 7, 31, 0, time.UTC)

// itWait bounds every wait on the spool's goroutines.
const itWait = 5 * time.Second

// valueOf returns the value of a counter or gauge.
func valueOf(tb testing.TB, m prometheus.Metric) float64 {
	tb.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		tb.Fatalf("read metric: %v", err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	tb.Fatalf("metric %v is neither a counter nor a gauge", m.Desc())
	return 0
}

func itPolicy(endpoint string) *Policy {
	return &Policy{
		Endpoint: endpoint, Enabled: true, SamplingPercent: 100, Input: true, Output: true,
		ContentTypes: NewContentTypes([]string{"text/csv"}, []string{"application/json"}),
	}
}

func itExchange(pol *Policy, id, variant string, at time.Time) *Exchange {
	return &Exchange{
		Policy: pol, EventID: id, Variant: variant, Time: at, Status: 200,
		InputContentType: "text/csv", Input: []byte("1,2"), InputSize: 3,
		HasOutput: true, OutputContentType: "application/json", Output: []byte(`{"id":"` + id + `"}`),
	}
}

// itFrame returns the frame the spool writes for a record of the endpoint
// "ep" with the given id, variant and time.
func itFrame(id, variant string, at time.Time) []byte {
	ex := itExchange(itPolicy("ep"), id, variant, at)
	return appendFrame(nil, at, "ep", variant, AppendLine(nil, ex))
}

// itSegment returns a segment file: its header and the frames.
func itSegment(seq uint64, created time.Time, frames ...[]byte) []byte {
	b := appendSegmentHeader(nil, segmentHeader{seq: seq, created: created})
	for _, f := range frames {
		b = append(b, f...)
	}
	return b
}

func itBucket(tb testing.TB) *file.Bucket {
	tb.Helper()
	b, err := file.New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// gateBucket holds every Put until open is closed.
type gateBucket struct {
	objstore.Bucket
	open chan struct{}
}

func (b *gateBucket) Put(ctx context.Context, key string, r io.Reader) error {
	select {
	case <-b.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.Bucket.Put(ctx, key, r)
}

// storedIDs returns the event ids of every record in b, sorted.
func storedIDs(tb testing.TB, b objstore.Bucket) []string {
	tb.Helper()
	var ids []string
	r := &Reader{Bucket: b}
	err := r.Scan(context.Background(), Filter{}, func(_ string, rec *Record) error {
		ids = append(ids, rec.EventMetadata.EventID)
		return nil
	})
	if err != nil {
		tb.Fatalf("Scan: %v", err)
	}
	slices.Sort(ids)
	return ids
}

func itOpen(tb testing.TB, bucket objstore.Bucket, opts SpoolOptions) *Spool {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = tb.TempDir()
	}
	if opts.FsyncInterval == 0 {
		opts.FsyncInterval = time.Millisecond
	}
	if opts.UploadRetryMin == 0 {
		opts.UploadRetryMin, opts.UploadRetryMax = time.Millisecond, 10*time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return it0 }
	}
	s, err := OpenSpool(bucket, opts)
	if err != nil {
		tb.Fatalf("OpenSpool: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), itWait)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func itClose(tb testing.TB, s *Spool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), itWait)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		tb.Errorf("Close: %v", err)
	}
}
