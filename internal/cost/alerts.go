package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// Budget caps the projected monthly cost of the endpoints it selects: the
// one named Endpoint, or every endpoint carrying all of Tag's key/value
// pairs.
type Budget struct {
	Name     string
	Endpoint string
	Tag      map[string]string
	Monthly  float64 // USD
}

// selects reports whether e is in the budget's scope.
func (b Budget) selects(e Endpoint) bool {
	if b.Endpoint != "" {
		return e.Name == b.Endpoint
	}
	if len(b.Tag) == 0 {
		return false
	}
	for k, v := range b.Tag {
		if got, ok := e.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// BudgetStatus is a budget's projection for the month.
type BudgetStatus struct {
	Name      string   `json:"name"`
	Monthly   float64  `json:"monthly_usd"`
	Projected float64  `json:"projected_usd"`
	Endpoints []string `json:"endpoints"`
	// Exceeded is true when Projected is above Monthly.
	Exceeded bool `json:"exceeded"`
}

// Budgets projects each budget from rows (as NewReport's per-endpoint
// lines) for period p. Only endpoints listed in endpoints can be selected by
// a tag.
func Budgets(rows []Usage, endpoints []Endpoint, prices Prices, p Period, budgets []Budget) []BudgetStatus {
	byEndpoint := map[string][]Usage{}
	for _, u := range rows {
		if u.Day.Before(p.AsOf) {
			byEndpoint[u.Endpoint] = append(byEndpoint[u.Endpoint], u)
		}
	}
	out := make([]BudgetStatus, 0, len(budgets))
	for _, b := range budgets {
		s := BudgetStatus{Name: b.Name, Monthly: b.Monthly, Endpoints: []string{}}
		var us []Usage
		for _, e := range endpoints {
			if b.selects(e) {
				s.Endpoints = append(s.Endpoints, e.Name)
				us = append(us, byEndpoint[e.Name]...)
			}
		}
		if b.Endpoint != "" && len(s.Endpoints) == 0 { // an endpoint only in the bucket
			s.Endpoints = append(s.Endpoints, b.Endpoint)
			us = byEndpoint[b.Endpoint]
		}
		s.Projected = project(us, prices, p).TotalUSD
		s.Exceeded = s.Projected > b.Monthly
		out = append(out, s)
	}
	return out
}

// AnomalyOptions configure anomaly detection on daily captured bytes.
type AnomalyOptions struct {
	// Weeks of history the day is compared with. Default 4.
	Weeks int
	// Threshold on |modified z-score|. Default 3.5 (Iglewicz and Hoaglin).
	Threshold float64
}

// DefaultAnomalyOptions returns 4 weeks and a threshold of 3.5.
func DefaultAnomalyOptions() AnomalyOptions { return AnomalyOptions{Weeks: 4, Threshold: 3.5} }

// MinHistoryDays is the fewest days of history an endpoint needs before its
// days are judged.
const MinHistoryDays = 7

// Anomaly is a day whose captured bytes stand out from the endpoint's
// history.
type Anomaly struct {
	Endpoint string    `json:"endpoint"`
	Day      time.Time `json:"day"`
	Bytes    int64     `json:"bytes"`
	Median   float64   `json:"median_bytes"`
	// Z is the modified z-score; ±Inf when the history is constant and the
	// day differs from it.
	// It encodes as null in JSON when infinite.
	Z           float64 `json:"z"`
	HistoryDays int     `json:"history_days"`
}

// MarshalJSON encodes an infinite Z as null (JSON has no infinity).
func (a Anomaly) MarshalJSON() ([]byte, error) {
	type plain Anomaly
	var z *float64
	if !math.IsInf(a.Z, 0) {
		z = &a.Z
	}
	return json.Marshal(struct {
		plain
		Z *float64 `json:"z"`
	}{plain(a), z})
}

// Anomalies judges day (midnight UTC, normally the last complete day) for
// every endpoint with usage in rows, against the Weeks×7 days before it
// (days without objects count as 0 bytes; the history starts no earlier
// than the endpoint's first day with objects). See ModifiedZ for the score.
// Endpoints with fewer than MinHistoryDays days of history are skipped.
func Anomalies(rows []Usage, day time.Time, o AnomalyOptions) []Anomaly {
	day = day.UTC().Truncate(24 * time.Hour)
	histDays := o.Weeks * 7
	from := day.AddDate(0, 0, -histDays)
	type series struct {
		first time.Time
		bytes map[time.Time]int64
	}
	eps := map[string]*series{}
	for _, u := range rows {
		s := eps[u.Endpoint]
		if s == nil {
			s = &series{first: u.Day, bytes: map[time.Time]int64{}}
			eps[u.Endpoint] = s
		}
		if u.Day.Before(s.first) {
			s.first = u.Day
		}
		s.bytes[u.Day] += u.Bytes
	}
	var out []Anomaly
	for name, s := range eps {
		start := from
		if s.first.After(start) {
			start = s.first
		}
		var hist []float64
		for d := start; d.Before(day); d = d.AddDate(0, 0, 1) {
			hist = append(hist, float64(s.bytes[d]))
		}
		if len(hist) < MinHistoryDays {
			continue
		}
		x := s.bytes[day]
		z, med := ModifiedZ(float64(x), hist)
		if math.Abs(z) > o.Threshold {
			out = append(out, Anomaly{Endpoint: name, Day: day, Bytes: x, Median: med, Z: z, HistoryDays: len(hist)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
	return out
}

// ModifiedZ returns the Iglewicz–Hoaglin modified z-score of x against hist
// and hist's median:
//
//	z = 0.6745 × (x − median) / MAD
//
// where MAD is the median absolute deviation from the median. When MAD is 0
// (more than half the history is one value) it falls back to the mean
// absolute deviation: z = (x − median) / (1.253314 × MeanAD). When that is
// 0 too (a constant history), z is 0 for x equal to the median and ±Inf
// otherwise. hist must not be empty.
func ModifiedZ(x float64, hist []float64) (z, median float64) {
	median = medianOf(hist)
	dev := make([]float64, len(hist))
	var sum float64
	for i, h := range hist {
		dev[i] = math.Abs(h - median)
		sum += dev[i]
	}
	d := x - median
	if mad := medianOf(dev); mad > 0 {
		return 0.6745 * d / mad, median
	}
	if meanAD := sum / float64(len(hist)); meanAD > 0 {
		return d / (1.253314 * meanAD), median
	}
	switch {
	case d > 0:
		return math.Inf(1), median
	case d < 0:
		return math.Inf(-1), median
	}
	return 0, median
}

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Idle is an endpoint without captured objects for at least the idle
// period.
type Idle struct {
	Endpoint string `json:"endpoint"`
	// LastObject is the start of the hour of its latest object; zero when it
	// never captured anything.
	LastObject time.Time `json:"last_object,omitzero"`
}

// IdleEndpoints returns the endpoints, in order, whose latest object's hour
// ended at least idleDays days before now (or that have none).
func IdleEndpoints(rows []Usage, endpoints []Endpoint, now time.Time, idleDays int) []Idle {
	last := map[string]time.Time{}
	for _, u := range rows {
		if u.LastHour.After(last[u.Endpoint]) {
			last[u.Endpoint] = u.LastHour
		}
	}
	cutoff := now.Add(-time.Duration(idleDays) * 24 * time.Hour)
	var out []Idle
	for _, e := range endpoints {
		l, ok := last[e.Name]
		if !ok || !l.Add(time.Hour).After(cutoff) {
			out = append(out, Idle{Endpoint: e.Name, LastObject: l})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
	return out
}

// Summary is a one-line description of an alert, for people and chat tools.
func (s BudgetStatus) Summary() string {
	return fmt.Sprintf("budget %s: projected $%.2f exceeds $%.2f this month (%d endpoints)", s.Name, s.Projected, s.Monthly, len(s.Endpoints))
}

// Summary is a one-line description of the anomaly.
func (a Anomaly) Summary() string {
	return fmt.Sprintf("endpoint %s captured %d bytes on %s (median %.0f, modified z %.1f)", a.Endpoint, a.Bytes, a.Day.Format(time.DateOnly), a.Median, a.Z)
}

// Summary is a one-line description of the idle endpoint.
func (i Idle) Summary() string {
	if i.LastObject.IsZero() {
		return fmt.Sprintf("endpoint %s has never captured an object", i.Endpoint)
	}
	return fmt.Sprintf("endpoint %s has captured nothing since %s", i.Endpoint, i.LastObject.Format(time.RFC3339))
}
