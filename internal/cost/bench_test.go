package cost_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/cost"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

// BenchmarkReport_month100Endpoints lists a file bucket holding a month of
// hourly objects for 100 endpoints (72,000 objects) and computes the report
// and alerts: what 'glassbox cost report' does.
func BenchmarkReport_month100Endpoints(b *testing.B) {
	const endpoints, hours = 100, 30 * 24
	root := b.TempDir()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	eps := make([]cost.Endpoint, endpoints)
	body := make([]byte, 2048)
	for e := range endpoints {
		name := fmt.Sprintf("ep-%03d", e)
		eps[e] = cost.Endpoint{Name: name, Tags: map[string]string{"cost-center": fmt.Sprintf("cc-%d", e%10)}}
		for h := range hours {
			// Objects are written directly in the bucket's layout: going
			// through Put would time 72,000 fsyncs, not the report.
			p := filepath.Join(root, filepath.FromSlash(capture.ObjectKey(name, "v1", start.Add(time.Duration(h)*time.Hour), "x")))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, body[:1024+h%1024], 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
	bucket, err := file.New(root)
	if err != nil {
		b.Fatal(err)
	}
	p, err := cost.NewPeriod(start, start.AddDate(0, 1, 0))
	if err != nil {
		b.Fatal(err)
	}
	o := cost.DefaultOptions()
	o.Budgets = []cost.Budget{{Name: "cc-1", Tag: map[string]string{"cost-center": "cc-1"}, Monthly: 1}}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		col, err := cost.Collect(ctx, bucket, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(col.Rows) != endpoints*30 {
			b.Fatalf("%d rows", len(col.Rows))
		}
		if _, err := cost.NewReport(col.Rows, eps, o.Prices, p, "tag:cost-center"); err != nil {
			b.Fatal(err)
		}
		cost.Evaluate(col.Rows, eps, o, p)
	}
	b.ReportMetric(endpoints*hours, "objects/op")
}
