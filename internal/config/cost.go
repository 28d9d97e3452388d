package config

import (
	"fmt"
	"math"
)

// Cost configures cost and showback (docs/cost.md): the price table,
// budgets, anomaly detection on daily captured volume and idle endpoints.
type Cost struct {
	// Prices is the price table in US dollars. Default Amazon S3 Standard
	// list prices in us-east-1.
	Prices CostPrices `yaml:"prices"`
	// Budgets cap the projected monthly cost of an endpoint or of every
	// endpoint with given tags. Default none.
	Budgets []CostBudget `yaml:"budgets"`
	// Anomaly configures the rule on daily captured bytes.
	Anomaly CostAnomaly `yaml:"anomaly"`
	// IdleDays is how many days without a captured object make an
	// endpoint idle. Default 7; 1 to 366.
	IdleDays int `yaml:"idle_days"`
}

// CostPrices is the price table. Each price is >= 0 and finite.
type CostPrices struct {
	// StorageGBMonth is USD per GB (2^30 bytes) stored for a month.
	// Default 0.023.
	StorageGBMonth float64 `yaml:"storage_gb_month"`
	// PutPer1000 is USD per 1,000 PUT requests. Default 0.005.
	PutPer1000 float64 `yaml:"put_per_1000"`
	// GetPer1000 is USD per 1,000 GET requests. Default 0.0004.
	GetPer1000 float64 `yaml:"get_per_1000"`
}

// CostBudget is one budget: exactly one of Endpoint and Tag selects its
// endpoints.
type CostBudget struct {
	// Name identifies the budget in reports and alerts. Required, unique.
	Name string `yaml:"name"`
	// Endpoint selects one endpoint by name.
	Endpoint string `yaml:"endpoint"`
	// Tag selects every endpoint that carries all these tags.
	Tag map[string]string `yaml:"tag"`
	// Monthly is the budget in USD per month; > 0.
	Monthly float64 `yaml:"monthly"`
}

// CostAnomaly configures anomaly detection on daily captured bytes.
type CostAnomaly struct {
	// Weeks of history a day is compared with. Default 4; 1 to 52.
	Weeks int `yaml:"weeks"`
	// Threshold on the absolute modified z-score. Default 3.5; > 0.
	Threshold float64 `yaml:"threshold"`
}

// DefaultCost returns the cost section's defaults: S3 Standard us-east-1
// list prices (https://aws.amazon.com/s3/pricing/), no budgets, 4 weeks and
// 3.5 for anomalies, 7 idle days.
func DefaultCost() Cost {
	return Cost{
		Prices:   CostPrices{StorageGBMonth: 0.023, PutPer1000: 0.005, GetPer1000: 0.0004},
		Budgets:  nil,
		Anomaly:  CostAnomaly{Weeks: 4, Threshold: 3.5},
		IdleDays: 7,
	}
}

// validate checks the cost section.
func (c *Cost) validate(ps *problems) {
	for _, f := range []struct {
		key string
		v   float64
	}{
		{"storage_gb_month", c.Prices.StorageGBMonth},
		{"put_per_1000", c.Prices.PutPer1000},
		{"get_per_1000", c.Prices.GetPer1000},
	} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			ps.add("cost.prices."+f.key, "must be a finite price >= 0, got %v", f.v)
		}
	}
	names := map[string]int{}
	for i, b := range c.Budgets {
		path := fmt.Sprintf("cost.budgets[%d]", i)
		switch {
		case b.Name == "":
			ps.add(path+".name", "is required")
		default:
			if j, dup := names[b.Name]; dup {
				ps.add(path+".name", "duplicate budget name %s (also cost.budgets[%d].name)", quote(b.Name), j)
			} else {
				names[b.Name] = i
			}
		}
		switch {
		case b.Endpoint == "" && len(b.Tag) == 0:
			ps.add(path, "set endpoint or tag to say which endpoints the budget covers")
		case b.Endpoint != "" && len(b.Tag) > 0:
			ps.add(path, "set endpoint or tag, not both")
		}
		for k := range b.Tag {
			if k == "" {
				ps.add(path+".tag", "tag keys must not be empty")
			}
		}
		if !(b.Monthly > 0) || math.IsInf(b.Monthly, 0) {
			ps.add(path+".monthly", "must be a finite amount > 0 (USD per month), got %v", b.Monthly)
		}
	}
	if c.Anomaly.Weeks < 1 || c.Anomaly.Weeks > 52 {
		ps.add("cost.anomaly.weeks", "must be between 1 and 52, got %d", c.Anomaly.Weeks)
	}
	if !(c.Anomaly.Threshold > 0) || math.IsInf(c.Anomaly.Threshold, 0) {
		ps.add("cost.anomaly.threshold", "must be a finite number > 0, got %v", c.Anomaly.Threshold)
	}
	if c.IdleDays < 1 || c.IdleDays > 366 {
		ps.add("cost.idle_days", "must be between 1 and 366, got %d", c.IdleDays)
	}
}
