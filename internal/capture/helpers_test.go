package capture_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

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
