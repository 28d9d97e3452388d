package notify_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/cost"
	"github.com/glassbox-dev/glassbox/internal/notify"
)

func TestWebhook_notifyCost(t *testing.T) {
	r := newReceiver(t, 503, 200)
	w := newWebhook(t, notify.WebhookTarget{Name: "finops", URL: r.URL, Secret: "s3cret"})
	alerts := cost.Alerts{
		Budgets: []cost.BudgetStatus{
			{Name: "cc-42", Monthly: 50, Projected: 61.5, Endpoints: []string{"fraud"}, Exceeded: true},
			{Name: "ok", Monthly: 50, Projected: 1, Endpoints: []string{"churn"}},
		},
		Idle: []cost.Idle{{Endpoint: "churn", LastObject: time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)}},
	}
	sent, err := alerts.Notify(t.Context(), w, "2026-11")
	if err != nil || sent != 2 {
		t.Fatalf("Notify = %d, %v; want 2 delivered", sent, err)
	}
	got := r.deliveries()
	if len(got) != 3 { // one retry of the first
		t.Fatalf("%d requests, want 3", len(got))
	}
	var types []string
	for i, d := range got {
		if err := notify.Verify("s3cret", d.header.Get(notify.HeaderTimestamp), d.body, d.header.Get(notify.HeaderSignature)); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		var body map[string]any
		if err := json.Unmarshal(d.body, &body); err != nil {
			t.Fatal(err)
		}
		types = append(types, body["type"].(string))
		if body["month"] != "2026-11" || body["summary"] == "" {
			t.Errorf("body = %s", d.body)
		}
	}
	if types[1] != cost.NotificationBudget || types[2] != cost.NotificationIdle {
		t.Errorf("types = %v", types)
	}
}
