package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParse_cost(t *testing.T) {
	cfg, err := config.Parse([]byte(`
cost:
  prices: {storage_gb_month: 0.02}
  budgets:
    - {name: team-a, tag: {cost-center: cc-42}, monthly: 50.0}
    - {name: fraud, endpoint: fraud, monthly: 5}
  anomaly: {weeks: 2}
  idle_days: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Cost{
		Prices: config.CostPrices{StorageGBMonth: 0.02, PutPer1000: 0.005, GetPer1000: 0.0004},
		Budgets: []config.CostBudget{
			{Name: "team-a", Tag: map[string]string{"cost-center": "cc-42"}, Monthly: 50},
			{Name: "fraud", Endpoint: "fraud", Monthly: 5},
		},
		Anomaly:  config.CostAnomaly{Weeks: 2, Threshold: 3.5},
		IdleDays: 3,
	}
	if diff := cmp.Diff(want, cfg.Cost); diff != "" {
		t.Errorf("cost section mismatch (-want +got):\n%s", diff)
	}
}

func TestValidate_cost(t *testing.T) {
	for _, tc := range []struct {
		yaml, path string
	}{
		{`prices: {storage_gb_month: -1}`, "cost.prices.storage_gb_month"},
		{`prices: {put_per_1000: -0.1}`, "cost.prices.put_per_1000"},
		{`budgets: [{endpoint: a, monthly: 1}]`, "cost.budgets[0].name"},
		{`budgets: [{name: a, endpoint: a, monthly: 1}, {name: a, endpoint: b, monthly: 1}]`, "cost.budgets[1].name"},
		{`budgets: [{name: a, monthly: 1}]`, "cost.budgets[0]"},
		{`budgets: [{name: a, endpoint: a, tag: {owner: x}, monthly: 1}]`, "cost.budgets[0]"},
		{`budgets: [{name: a, endpoint: a, monthly: 0}]`, "cost.budgets[0].monthly"},
		{`anomaly: {weeks: 0}`, "cost.anomaly.weeks"},
		{`anomaly: {threshold: 0}`, "cost.anomaly.threshold"},
		{`idle_days: 0`, "cost.idle_days"},
		{`unknown: 1`, "cost.unknown"},
	} {
		_, err := config.Parse([]byte("cost:\n  " + tc.yaml + "\n"))
		if err == nil {
			t.Errorf("%s: Parse succeeded, want a problem at %s", tc.yaml, tc.path)
			continue
		}
		if !strings.Contains(err.Error(), tc.path+":") && !strings.Contains(err.Error(), tc.path+" ") {
			t.Errorf("%s: error %q does not name %s", tc.yaml, err, tc.path)
		}
	}
}
