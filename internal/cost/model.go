package cost

import (
	"fmt"
	"sort"
	"time"
)

// GiB is the gigabyte of S3's storage price: AWS bills GB-months of 2^30
// bytes.
const GiB = 1 << 30

const day = 24 * time.Hour

// Prices is the price table, in US dollars.
type Prices struct {
	// StorageGBMonth is the price of storing one GB (2^30 bytes) for a
	// month.
	StorageGBMonth float64
	// PutPer1000 is the price of 1,000 PUT requests (one per capture
	// object).
	PutPer1000 float64
	// GetPer1000 is the price of 1,000 GET requests. Reports leave GETs out
	// (docs/cost.md), so it is informational.
	GetPer1000 float64
}

// DefaultPrices returns Amazon S3 Standard list prices in us-east-1 (first
// 50 TB per month): $0.023 per GB-month, $0.005 per 1,000 PUT, COPY, POST
// and LIST requests, $0.0004 per 1,000 GET requests
// (https://aws.amazon.com/s3/pricing/).
func DefaultPrices() Prices {
	return Prices{StorageGBMonth: 0.023, PutPer1000: 0.005, GetPer1000: 0.0004}
}

// Endpoint is what the report knows about an endpoint beyond its usage: its
// tags (owner, cost-center, ...).
type Endpoint struct {
	Name string
	Tags map[string]string
}

// TrailingDays is the window of the daily average that projects growth.
const TrailingDays = 7

// Period is the month a report covers and the instant it is computed as of.
type Period struct {
	Start time.Time // midnight UTC of the month's first day
	End   time.Time // midnight UTC of the next month's first day
	AsOf  time.Time // min(now, End): usage after it is ignored
}

// NewPeriod returns the period of the month containing month (any instant
// of it) as seen at now. A month that starts after now is an error.
func NewPeriod(month, now time.Time) (Period, error) {
	month = month.UTC()
	start := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	now = now.UTC()
	if start.After(now) {
		return Period{}, fmt.Errorf("month %s has not started yet", start.Format("2006-01"))
	}
	asOf := now
	if asOf.After(end) {
		asOf = end
	}
	return Period{Start: start, End: end, AsOf: asOf}, nil
}

// Days is the number of days in the month.
func (p Period) Days() float64 { return p.End.Sub(p.Start).Hours() / 24 }

// Remaining is the number of days, fractional, from AsOf to the month's
// end.
func (p Period) Remaining() float64 { return p.End.Sub(p.AsOf).Hours() / 24 }

// Line is the cost of one group of usage (an endpoint, a variant, a day or
// a tag value) in one month.
type Line struct {
	Group string `json:"group"`
	// BytesStored and ObjectsStored are what is in the bucket at AsOf.
	BytesStored   int64 `json:"bytes_stored"`
	ObjectsStored int64 `json:"objects_stored"`
	// BytesMonth and ObjectsMonth were captured in the month up to AsOf.
	BytesMonth   int64 `json:"bytes_month"`
	ObjectsMonth int64 `json:"objects_month"`
	// DailyBytes and DailyObjects are the averages of the TrailingDays
	// complete UTC days before AsOf's day.
	DailyBytes   float64 `json:"daily_bytes"`
	DailyObjects float64 `json:"daily_objects"`
	// The projected costs of the whole month, in USD.
	StorageUSD  float64 `json:"storage_usd"`
	RequestsUSD float64 `json:"requests_usd"`
	TotalUSD    float64 `json:"total_usd"`
}

// Groupings of a report.
const (
	ByEndpoint = "endpoint"
	ByVariant  = "variant"
	ByDay      = "day"
	// ByTagPrefix followed by a tag key groups by that tag's value.
	ByTagPrefix = "tag:"
)

// Untagged is the group of endpoints without the grouping tag.
const Untagged = "(untagged)"

// Report is a month's cost, grouped one way.
type Report struct {
	Month  string     `json:"month"` // YYYY-MM
	AsOf   time.Time  `json:"as_of"`
	By     string     `json:"by"`
	Prices PricesJSON `json:"prices"`
	Lines  []Line     `json:"lines"`
	Total  Line       `json:"total"`
}

// PricesJSON is Prices as it appears in a report.
type PricesJSON struct {
	StorageGBMonth float64 `json:"storage_gb_month"`
	PutPer1000     float64 `json:"put_per_1000"`
	GetPer1000     float64 `json:"get_per_1000"`
}

// ValidBy reports whether by is a grouping NewReport accepts.
func ValidBy(by string) bool {
	switch by {
	case ByEndpoint, ByVariant, ByDay:
		return true
	}
	return len(by) > len(ByTagPrefix) && by[:len(ByTagPrefix)] == ByTagPrefix
}

// NewReport prices rows for period p, grouped by by. endpoints supplies the
// tags; usage of endpoints missing from it is untagged.
func NewReport(rows []Usage, endpoints []Endpoint, prices Prices, p Period, by string) (Report, error) {
	if !ValidBy(by) {
		return Report{}, fmt.Errorf("group by %q: want endpoint, variant, day or tag:KEY", by)
	}
	tags := make(map[string]map[string]string, len(endpoints))
	for _, e := range endpoints {
		tags[e.Name] = e.Tags
	}
	groupOf := func(u Usage) string {
		switch by {
		case ByEndpoint:
			return u.Endpoint
		case ByVariant:
			return u.Endpoint + "/" + u.Variant
		case ByDay:
			return u.Day.Format(time.DateOnly)
		}
		if v, ok := tags[u.Endpoint][by[len(ByTagPrefix):]]; ok && v != "" {
			return v
		}
		return Untagged
	}
	groups := map[string][]Usage{}
	var all []Usage
	for _, u := range rows {
		if !u.Day.Before(p.AsOf) { // a day that starts at or after AsOf
			continue
		}
		if by == ByDay && u.Day.Before(p.Start) {
			continue
		}
		g := groupOf(u)
		groups[g] = append(groups[g], u)
		all = append(all, u)
	}
	r := Report{
		Month:  p.Start.Format("2006-01"),
		AsOf:   p.AsOf,
		By:     by,
		Prices: PricesJSON(prices),
		Lines:  make([]Line, 0, len(groups)),
	}
	for g, us := range groups {
		var l Line
		if by == ByDay {
			l = dayLine(us, prices, p)
		} else {
			l = project(us, prices, p)
		}
		l.Group = g
		r.Lines = append(r.Lines, l)
	}
	sort.Slice(r.Lines, func(i, j int) bool { return r.Lines[i].Group < r.Lines[j].Group })
	if by == ByDay {
		for _, l := range r.Lines {
			r.Total.BytesStored += l.BytesStored
			r.Total.ObjectsStored += l.ObjectsStored
			r.Total.BytesMonth += l.BytesMonth
			r.Total.ObjectsMonth += l.ObjectsMonth
			r.Total.StorageUSD += l.StorageUSD
			r.Total.RequestsUSD += l.RequestsUSD
			r.Total.TotalUSD += l.TotalUSD
		}
	} else {
		r.Total = project(all, prices, p)
	}
	r.Total.Group = "total"
	return r, nil
}

// project computes the month's projected cost of rows (docs/cost.md):
//
//	stored   = bytes of objects from before AsOf
//	growth   = average daily bytes of the 7 complete days before AsOf's day
//	storage  = (stored + growth × remaining / 2) / GiB × price per GB-month
//	requests = (objects this month + average daily objects × remaining) / 1000 × PUT price
//
// The storage term prices the month at the midpoint between what is stored
// now and what will be stored at the month's end.
func project(rows []Usage, prices Prices, p Period) Line {
	var l Line
	winEnd := p.AsOf.Truncate(day)
	winStart := winEnd.Add(-TrailingDays * day)
	for _, u := range rows {
		l.BytesStored += u.Bytes
		l.ObjectsStored += u.Objects
		if !u.Day.Before(p.Start) {
			l.BytesMonth += u.Bytes
			l.ObjectsMonth += u.Objects
		}
		if !u.Day.Before(winStart) && u.Day.Before(winEnd) {
			l.DailyBytes += float64(u.Bytes)
			l.DailyObjects += float64(u.Objects)
		}
	}
	l.DailyBytes /= TrailingDays
	l.DailyObjects /= TrailingDays
	rem := p.Remaining()
	l.StorageUSD = (float64(l.BytesStored) + l.DailyBytes*rem/2) / GiB * prices.StorageGBMonth
	l.RequestsUSD = (float64(l.ObjectsMonth) + l.DailyObjects*rem) / 1000 * prices.PutPer1000
	l.TotalUSD = l.StorageUSD + l.RequestsUSD
	return l
}

// dayLine is the cost a day's captures add to the month: their PUTs, and
// their storage for the days of the month from that day on.
func dayLine(rows []Usage, prices Prices, p Period) Line {
	var l Line
	for _, u := range rows {
		l.BytesStored += u.Bytes
		l.ObjectsStored += u.Objects
		l.BytesMonth += u.Bytes
		l.ObjectsMonth += u.Objects
		share := p.End.Sub(u.Day).Hours() / 24 / p.Days()
		l.StorageUSD += float64(u.Bytes) / GiB * prices.StorageGBMonth * share
	}
	l.RequestsUSD = float64(l.ObjectsMonth) / 1000 * prices.PutPer1000
	l.TotalUSD = l.StorageUSD + l.RequestsUSD
	return l
}
