package cost

import (
	"context"
	"errors"
	"fmt"
)

// Notification types.
const (
	NotificationBudget  = "cost.budget"
	NotificationAnomaly = "cost.anomaly"
	NotificationIdle    = "cost.idle"
)

// Notification is one cost alert as delivered to webhooks (the same
// receivers, headers and signature as monitor notifications; see
// docs/cost.md). It encodes as JSON with snake_case keys; exactly one of
// Budget, Anomaly and Idle is set, as Type says.
type Notification struct {
	Type    string        `json:"type"`
	Month   string        `json:"month"`
	Summary string        `json:"summary"`
	Budget  *BudgetStatus `json:"budget,omitempty"`
	Anomaly *Anomaly      `json:"anomaly,omitempty"`
	Idle    *Idle         `json:"idle,omitempty"`
}

// Notifier delivers cost notifications (notify.Webhook implements it).
type Notifier interface {
	NotifyCost(ctx context.Context, n Notification) error
}

// Notifications returns one notification per exceeded budget, anomaly and
// idle endpoint, in that order.
func (a Alerts) Notifications(month string) []Notification {
	var out []Notification
	for i := range a.Budgets {
		if b := a.Budgets[i]; b.Exceeded {
			out = append(out, Notification{Type: NotificationBudget, Month: month, Summary: b.Summary(), Budget: &b})
		}
	}
	for i := range a.Anomalies {
		x := a.Anomalies[i]
		out = append(out, Notification{Type: NotificationAnomaly, Month: month, Summary: x.Summary(), Anomaly: &x})
	}
	for i := range a.Idle {
		x := a.Idle[i]
		out = append(out, Notification{Type: NotificationIdle, Month: month, Summary: x.Summary(), Idle: &x})
	}
	return out
}

// Notify delivers every notification of a for month through n, and returns
// how many were delivered and the joined errors of the others.
func (a Alerts) Notify(ctx context.Context, n Notifier, month string) (int, error) {
	var errs []error
	sent := 0
	for _, x := range a.Notifications(month) {
		if err := n.NotifyCost(ctx, x); err != nil {
			errs = append(errs, fmt.Errorf("notify %s: %w", x.Type, err))
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}
