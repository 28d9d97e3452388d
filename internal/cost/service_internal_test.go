package cost

import (
	"context"
	"errors"
	"testing"
	"time"
)

type countingNotifier struct {
	got  []Notification
	fail bool
}

func (c *countingNotifier) NotifyCost(_ context.Context, n Notification) error {
	if c.fail {
		return errors.New("receiver down")
	}
	c.got = append(c.got, n)
	return nil
}

// TestService_notifyDaily: alerts go out once per UTC day; a failed
// delivery is retried at the next refresh.
func TestService_notifyDaily(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	n := &countingNotifier{fail: true}
	s := NewService(ServiceOptions{Notifier: n, Now: func() time.Time { return now }})
	res := Result{Report: Report{Month: "2026-11"}, Alerts: Alerts{Idle: []Idle{{Endpoint: "churn"}}}}

	s.notifyDaily(context.Background(), res) // receiver down
	if len(n.got) != 0 || s.lastNotified != "" {
		t.Fatalf("failed delivery recorded as done: %d sent, last %q", len(n.got), s.lastNotified)
	}
	n.fail = false
	s.notifyDaily(context.Background(), res)
	s.notifyDaily(context.Background(), res) // same day: nothing more
	if len(n.got) != 1 || n.got[0].Type != NotificationIdle {
		t.Fatalf("same day: %d notifications %+v, want one idle alert", len(n.got), n.got)
	}
	now = now.Add(24 * time.Hour)
	s.notifyDaily(context.Background(), res)
	if len(n.got) != 2 {
		t.Fatalf("next day: %d notifications, want 2", len(n.got))
	}
}
