package cost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/cost"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

const gib = 1 << 30

func d(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCollect_fileBucket(t *testing.T) {
	ctx := context.Background()
	b, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, n int) {
		t.Helper()
		if err := b.Put(ctx, key, bytes.NewReader(make([]byte, n))); err != nil {
			t.Fatal(err)
		}
	}
	put(capture.ObjectKey("fraud", "v1", ts("2026-11-20T03:04:05Z"), "a"), 100)
	put(capture.ObjectKey("fraud", "v1", ts("2026-11-20T23:59:59Z"), "b"), 50)
	put(capture.ObjectKey("fraud", "v1", ts("2026-11-21T00:00:00Z"), "c"), 7)
	put(capture.ObjectKey("fraud", "v2", ts("2026-11-20T10:00:00Z"), "d"), 3)
	put(capture.ObjectKey("churn", "main", ts("2026-10-31T12:00:00Z"), "e"), 11)
	put("reports/fraud/2026/11/20/report.json", 999) // not a capture object
	put("fraud/v1/manifest.json", 999)

	got, err := cost.Collect(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := cost.Collected{Skipped: 2, Rows: []cost.Usage{
		{Endpoint: "churn", Variant: "main", Day: d("2026-10-31"), Bytes: 11, Objects: 1, LastHour: ts("2026-10-31T12:00:00Z")},
		{Endpoint: "fraud", Variant: "v1", Day: d("2026-11-20"), Bytes: 150, Objects: 2, LastHour: ts("2026-11-20T23:00:00Z")},
		{Endpoint: "fraud", Variant: "v1", Day: d("2026-11-21"), Bytes: 7, Objects: 1, LastHour: ts("2026-11-21T00:00:00Z")},
		{Endpoint: "fraud", Variant: "v2", Day: d("2026-11-20"), Bytes: 3, Objects: 1, LastHour: ts("2026-11-20T10:00:00Z")},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Collect mismatch (-want +got):\n%s", diff)
	}

	// Listing only named endpoints skips the others and the reports.
	got, err = cost.Collect(ctx, b, []string{"churn"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 1 || got.Rows[0].Endpoint != "churn" || got.Skipped != 0 {
		t.Errorf("Collect(churn) = %+v", got)
	}
}

// month is November 2026 (30 days) as of the 22nd at noon: 8.5 days remain.
func month(t *testing.T) cost.Period {
	t.Helper()
	p, err := cost.NewPeriod(d("2026-11-01"), ts("2026-11-22T12:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Days() != 30 || p.Remaining() != 8.5 {
		t.Fatalf("period %+v: days %v, remaining %v", p, p.Days(), p.Remaining())
	}
	return p
}

// usage is endpoint a: 1 GiB on Oct 31, 1 GiB and 1,000 objects on each of
// Nov 15–21, half that today, and a day after now (clock skew) that is
// ignored.
func usage() []cost.Usage {
	rows := []cost.Usage{{Endpoint: "a", Variant: "v", Day: d("2026-10-31"), Bytes: gib, Objects: 10}}
	for day := d("2026-11-15"); day.Before(d("2026-11-22")); day = day.AddDate(0, 0, 1) {
		rows = append(rows, cost.Usage{Endpoint: "a", Variant: "v", Day: day, Bytes: gib, Objects: 1000})
	}
	rows = append(rows,
		cost.Usage{Endpoint: "a", Variant: "v", Day: d("2026-11-22"), Bytes: gib / 2, Objects: 500},
		cost.Usage{Endpoint: "a", Variant: "v", Day: d("2026-11-23"), Bytes: 100 * gib, Objects: 1e6},
	)
	return rows
}

func TestNewReport_projection(t *testing.T) {
	r, err := cost.NewReport(usage(), nil, cost.DefaultPrices(), month(t), cost.ByEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lines) != 1 {
		t.Fatalf("lines = %+v", r.Lines)
	}
	l := r.Lines[0]
	// stored 8.5 GiB; growth 1 GiB/day × 8.5 days / 2 = 4.25 GiB.
	wantStorage := (8.5 + 4.25) * 0.023
	// 7,500 PUTs so far + 1,000/day × 8.5 days = 16,000 PUTs.
	wantRequests := 16.0 * 0.005
	if l.BytesStored != 8*gib+gib/2 || l.BytesMonth != 7*gib+gib/2 || l.ObjectsMonth != 7500 ||
		!near(l.DailyBytes, gib) || !near(l.DailyObjects, 1000) ||
		!near(l.StorageUSD, wantStorage) || !near(l.RequestsUSD, wantRequests) || !near(l.TotalUSD, wantStorage+wantRequests) {
		t.Errorf("line = %+v; want storage %v requests %v", l, wantStorage, wantRequests)
	}
	if r.Total.TotalUSD != l.TotalUSD || r.Month != "2026-11" {
		t.Errorf("total = %+v, month %s", r.Total, r.Month)
	}
}

func TestNewReport_pastMonthHasNoProjection(t *testing.T) {
	p, err := cost.NewPeriod(d("2026-10-15"), ts("2026-11-22T12:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Remaining() != 0 || !p.AsOf.Equal(d("2026-11-01")) {
		t.Fatalf("period = %+v", p)
	}
	r, err := cost.NewReport(usage(), nil, cost.DefaultPrices(), p, cost.ByEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Lines[0]
	if l.BytesStored != gib || l.ObjectsMonth != 10 || !near(l.TotalUSD, 0.023+10.0/1000*0.005) {
		t.Errorf("October line = %+v", l)
	}
	if _, err := cost.NewPeriod(d("2026-12-01"), ts("2026-11-22T12:00:00Z")); err == nil {
		t.Error("NewPeriod(a future month) succeeded")
	}
}

func TestNewReport_groupings(t *testing.T) {
	p := month(t)
	rows := []cost.Usage{
		{Endpoint: "a", Variant: "v1", Day: d("2026-11-20"), Bytes: 10, Objects: 1},
		{Endpoint: "a", Variant: "v2", Day: d("2026-11-21"), Bytes: 20, Objects: 2},
		{Endpoint: "b", Variant: "v1", Day: d("2026-11-21"), Bytes: 40, Objects: 4},
		{Endpoint: "c", Variant: "v1", Day: d("2026-11-21"), Bytes: 80, Objects: 8},
		{Endpoint: "gone", Variant: "v1", Day: d("2026-10-01"), Bytes: 160, Objects: 16},
	}
	eps := []cost.Endpoint{
		{Name: "a", Tags: map[string]string{"owner": "ana", "cost-center": "cc-42"}},
		{Name: "b", Tags: map[string]string{"owner": "ana"}},
		{Name: "c"},
	}
	groups := func(by string) map[string]int64 {
		t.Helper()
		r, err := cost.NewReport(rows, eps, cost.DefaultPrices(), p, by)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int64{}
		var sum float64
		for _, l := range r.Lines {
			m[l.Group] = l.BytesStored
			sum += l.TotalUSD
		}
		if by != cost.ByDay && r.Total.BytesStored != 310 {
			t.Errorf("by %s: total stored %d, want 310", by, r.Total.BytesStored)
		}
		if !near(sum, r.Total.TotalUSD) {
			t.Errorf("by %s: lines sum to $%v, total $%v", by, sum, r.Total.TotalUSD)
		}
		return m
	}
	for by, want := range map[string]map[string]int64{
		cost.ByEndpoint:   {"a": 30, "b": 40, "c": 80, "gone": 160},
		cost.ByVariant:    {"a/v1": 10, "a/v2": 20, "b/v1": 40, "c/v1": 80, "gone/v1": 160},
		cost.ByDay:        {"2026-11-20": 10, "2026-11-21": 140}, // October is not this month
		"tag:owner":       {"ana": 70, cost.Untagged: 240},
		"tag:cost-center": {"cc-42": 30, cost.Untagged: 280},
	} {
		if diff := cmp.Diff(want, groups(by)); diff != "" {
			t.Errorf("by %s (-want +got):\n%s", by, diff)
		}
	}
	if _, err := cost.NewReport(rows, eps, cost.DefaultPrices(), p, "owner"); err == nil {
		t.Error("NewReport(by owner) succeeded; want tag:owner")
	}
}

func TestBudgets(t *testing.T) {
	p := month(t)
	rows := usage()
	rows = append(rows, cost.Usage{Endpoint: "b", Variant: "v", Day: d("2026-11-20"), Bytes: gib, Objects: 0})
	eps := []cost.Endpoint{
		{Name: "a", Tags: map[string]string{"cost-center": "cc-42"}},
		{Name: "b", Tags: map[string]string{"cost-center": "cc-42", "owner": "bo"}},
		{Name: "idle", Tags: map[string]string{"cost-center": "cc-7"}},
	}
	a := 12.75*0.023 + 0.08 // TestNewReport_projection
	r, err := cost.NewReport(rows, eps, cost.DefaultPrices(), p, cost.ByEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	exact := r.Lines[0].TotalUSD // a budget equal to the projection is not exceeded
	bb := (1 + 1.0/7*8.5/2) * 0.023
	got := cost.Budgets(rows, eps, cost.DefaultPrices(), p, []cost.Budget{
		{Name: "team", Tag: map[string]string{"cost-center": "cc-42"}, Monthly: 0.4},
		{Name: "a-tight", Endpoint: "a", Monthly: 0.3},
		{Name: "a-exact", Endpoint: "a", Monthly: exact},
		{Name: "two-tags", Tag: map[string]string{"cost-center": "cc-42", "owner": "bo"}, Monthly: 1},
		{Name: "nobody", Tag: map[string]string{"cost-center": "cc-0"}, Monthly: 1},
	})
	want := []cost.BudgetStatus{
		{Name: "team", Monthly: 0.4, Projected: a + bb, Endpoints: []string{"a", "b"}, Exceeded: true},
		{Name: "a-tight", Monthly: 0.3, Projected: a, Endpoints: []string{"a"}, Exceeded: true},
		{Name: "a-exact", Monthly: exact, Projected: a, Endpoints: []string{"a"}, Exceeded: false},
		{Name: "two-tags", Monthly: 1, Projected: bb, Endpoints: []string{"b"}},
		{Name: "nobody", Monthly: 1, Projected: 0, Endpoints: []string{}},
	}
	approx := cmp.Comparer(func(x, y float64) bool { return math.Abs(x-y) < 1e-9 })
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("Budgets mismatch (-want +got):\n%s", diff)
	}
}

func TestModifiedZ(t *testing.T) {
	hist := []float64{10, 12, 11, 13, 9, 10, 11} // median 11, MAD 1
	if z, med := cost.ModifiedZ(20, hist); med != 11 || !near(z, 0.6745*9) {
		t.Errorf("ModifiedZ(20) = %v, %v", z, med)
	}
	// MAD 0 (most days equal): mean absolute deviation instead.
	hist = []float64{5, 5, 5, 5, 5, 5, 12}
	if z, _ := cost.ModifiedZ(12, hist); !near(z, 7/(1.253314*1.0)) {
		t.Errorf("ModifiedZ with MAD 0 = %v", z)
	}
	// A constant history: any change is infinitely far, no change is 0.
	hist = []float64{5, 5, 5, 5, 5, 5, 5}
	if z, _ := cost.ModifiedZ(6, hist); !math.IsInf(z, 1) {
		t.Errorf("ModifiedZ(6, constant) = %v, want +Inf", z)
	}
	if z, _ := cost.ModifiedZ(4, hist); !math.IsInf(z, -1) {
		t.Errorf("ModifiedZ(4, constant) = %v, want -Inf", z)
	}
	if z, _ := cost.ModifiedZ(5, hist); z != 0 {
		t.Errorf("ModifiedZ(5, constant) = %v, want 0", z)
	}
}

func TestAnomalies(t *testing.T) {
	day := d("2026-11-21")
	series := func(ep string, first time.Time, vals map[string]int64, def int64) []cost.Usage {
		var rows []cost.Usage
		for x := first; !x.After(day); x = x.AddDate(0, 0, 1) {
			b, ok := vals[x.Format(time.DateOnly)]
			if !ok {
				b = def + int64(x.Day()%3) // a little noise: MAD > 0
			}
			if b > 0 {
				rows = append(rows, cost.Usage{Endpoint: ep, Variant: "v", Day: x, Bytes: b, Objects: 1})
			}
		}
		return rows
	}
	var rows []cost.Usage
	rows = append(rows, series("spike", d("2026-10-01"), map[string]int64{"2026-11-21": 1000}, 100)...)
	rows = append(rows, series("steady", d("2026-10-01"), nil, 100)...)
	rows = append(rows, series("drop", d("2026-10-01"), map[string]int64{"2026-11-21": 0}, 100)...)
	rows = append(rows, series("young", d("2026-11-15"), map[string]int64{"2026-11-21": 1000}, 100)...) // 6 days of history
	rows = append(rows, series("week", d("2026-11-14"), map[string]int64{"2026-11-21": 1000}, 100)...)  // exactly 7
	got := cost.Anomalies(rows, day, cost.DefaultAnomalyOptions())
	var names []string
	for _, a := range got {
		names = append(names, a.Endpoint)
		if a.HistoryDays != map[string]int{"spike": 28, "drop": 28, "week": 7}[a.Endpoint] {
			t.Errorf("%s: history %d days", a.Endpoint, a.HistoryDays)
		}
	}
	if diff := cmp.Diff([]string{"drop", "spike", "week"}, names); diff != "" {
		t.Errorf("anomalous endpoints (-want +got):\n%s", diff)
	}
	for _, a := range got {
		if a.Endpoint == "drop" && (a.Bytes != 0 || a.Z >= 0) {
			t.Errorf("drop: %+v", a)
		}
	}
	// A constant history and a change: z is infinite and encodes as null.
	rows = nil
	for x := d("2026-11-01"); x.Before(day); x = x.AddDate(0, 0, 1) {
		rows = append(rows, cost.Usage{Endpoint: "flat", Variant: "v", Day: x, Bytes: 100, Objects: 1})
	}
	rows = append(rows, cost.Usage{Endpoint: "flat", Variant: "v", Day: day, Bytes: 101, Objects: 1})
	got = cost.Anomalies(rows, day, cost.DefaultAnomalyOptions())
	if len(got) != 1 || !math.IsInf(got[0].Z, 1) {
		t.Fatalf("flat: %+v", got)
	}
	b, err := json.Marshal(got[0])
	if err != nil || !strings.Contains(string(b), `"z":null`) {
		t.Errorf("json = %s, %v", b, err)
	}
}

func TestIdleEndpoints(t *testing.T) {
	now := ts("2026-11-22T12:00:00Z")
	rows := []cost.Usage{
		{Endpoint: "busy", Day: d("2026-11-22"), LastHour: ts("2026-11-22T11:00:00Z")},
		{Endpoint: "edge", Day: d("2026-11-15"), LastHour: ts("2026-11-15T11:00:00Z")}, // hour ended exactly 7 days ago
		{Endpoint: "recent", Day: d("2026-11-15"), LastHour: ts("2026-11-15T12:00:00Z")},
		{Endpoint: "old", Day: d("2026-11-01"), LastHour: ts("2026-11-01T00:00:00Z")},
	}
	eps := []cost.Endpoint{{Name: "busy"}, {Name: "edge"}, {Name: "recent"}, {Name: "old"}, {Name: "never"}}
	got := cost.IdleEndpoints(rows, eps, now, 7)
	want := []cost.Idle{
		{Endpoint: "edge", LastObject: ts("2026-11-15T11:00:00Z")},
		{Endpoint: "never"},
		{Endpoint: "old", LastObject: ts("2026-11-01T00:00:00Z")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IdleEndpoints mismatch (-want +got):\n%s", diff)
	}
}
