// Package cost puts a price on captured data: bytes and objects per
// endpoint, variant and day (read from a listing of the blob store), a price
// table, a projected monthly cost, budgets, anomalies on daily captured
// volume and idle endpoints. docs/cost.md explains every formula.
//
// It is pure logic over usage rows except Collect, which lists a bucket
// through the narrow Lister interface.
package cost

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// Usage is what one endpoint variant captured on one UTC day: the bytes and
// the number of objects (one PUT each) whose key names an hour of that day,
// and the latest such hour.
type Usage struct {
	Endpoint string
	Variant  string
	Day      time.Time // midnight UTC
	Bytes    int64
	Objects  int64
	// LastHour is the start of the latest hour with an object on Day.
	LastHour time.Time
}

// Lister is the part of objstore.Bucket that Collect needs.
type Lister interface {
	List(ctx context.Context, prefix string, fn func(objstore.ObjectInfo) error) error
}

// Collected is the result of Collect: usage rows sorted by endpoint,
// variant and day, and how many listed keys were not capture objects.
type Collected struct {
	Rows    []Usage
	Skipped int
}

// Collect lists the capture objects of the named endpoints (every object of
// the bucket when endpoints is empty) and sums them per endpoint, variant
// and day. Keys that are not in the capture layout (reports, digests,
// manifests) are counted in Skipped and otherwise ignored.
func Collect(ctx context.Context, l Lister, endpoints []string) (Collected, error) {
	type k struct {
		endpoint, variant string
		day               time.Time
	}
	sums := map[k]*Usage{}
	var skipped int
	fn := func(o objstore.ObjectInfo) error {
		info, err := capture.ParseObjectKey(o.Key)
		if err != nil {
			skipped++
			return nil
		}
		day := info.Hour.Truncate(24 * time.Hour)
		key := k{info.Endpoint, info.Variant, day}
		u := sums[key]
		if u == nil {
			u = &Usage{Endpoint: info.Endpoint, Variant: info.Variant, Day: day}
			sums[key] = u
		}
		u.Bytes += o.Size
		u.Objects++
		if info.Hour.After(u.LastHour) {
			u.LastHour = info.Hour
		}
		return nil
	}
	prefixes := []string{""}
	if len(endpoints) > 0 {
		prefixes = prefixes[:0]
		for _, e := range endpoints {
			prefixes = append(prefixes, e+"/")
		}
	}
	for _, p := range prefixes {
		if err := l.List(ctx, p, fn); err != nil {
			return Collected{}, fmt.Errorf("list capture objects under %q: %w", p, err)
		}
	}
	rows := make([]Usage, 0, len(sums))
	for _, u := range sums {
		rows = append(rows, *u)
	}
	SortUsage(rows)
	return Collected{Rows: rows, Skipped: skipped}, nil
}

// SortUsage orders rows by endpoint, variant and day.
func SortUsage(rows []Usage) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if c := strings.Compare(a.Endpoint, b.Endpoint); c != 0 {
			return c < 0
		}
		if c := strings.Compare(a.Variant, b.Variant); c != 0 {
			return c < 0
		}
		return a.Day.Before(b.Day)
	})
}
