package cost

import "time"

// Options are the settings of the cost model; cmd translates the config's
// cost section into them.
type Options struct {
	Prices  Prices
	Budgets []Budget
	Anomaly AnomalyOptions
	// IdleDays without a captured object make an endpoint idle. Default 7.
	IdleDays int
}

// DefaultOptions returns S3 Standard us-east-1 prices, no budgets, 4 weeks
// and 3.5 for anomalies and 7 idle days.
func DefaultOptions() Options {
	return Options{Prices: DefaultPrices(), Anomaly: DefaultAnomalyOptions(), IdleDays: 7}
}

// Alerts are what needs attention in a period.
type Alerts struct {
	// Budgets holds every budget's status, exceeded or not.
	Budgets []BudgetStatus `json:"budgets"`
	// Anomalies are judged on the last complete UTC day before AsOf's day.
	Anomalies []Anomaly `json:"anomalies"`
	Idle      []Idle    `json:"idle"`
}

// Evaluate computes budgets, anomalies and idle endpoints for period p.
func Evaluate(rows []Usage, endpoints []Endpoint, o Options, p Period) Alerts {
	var before []Usage
	for _, u := range rows {
		if u.Day.Before(p.AsOf) {
			before = append(before, u)
		}
	}
	a := Alerts{
		Budgets:   Budgets(before, endpoints, o.Prices, p, o.Budgets),
		Anomalies: Anomalies(before, p.AsOf.Truncate(day).Add(-day), o.Anomaly),
		Idle:      IdleEndpoints(before, endpoints, p.AsOf, o.IdleDays),
	}
	if a.Anomalies == nil {
		a.Anomalies = []Anomaly{}
	}
	if a.Idle == nil {
		a.Idle = []Idle{}
	}
	return a
}

// LastCompleteDay is the day Evaluate judges for anomalies.
func (p Period) LastCompleteDay() time.Time { return p.AsOf.Truncate(day).Add(-day) }
