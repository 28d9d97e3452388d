package notify

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/glassbox-dev/glassbox/internal/cost"
)

// Interface guard.
var _ cost.Notifier = (*Webhook)(nil)

// NotifyCost delivers a cost alert (types cost.budget, cost.anomaly,
// cost.idle) exactly as Notify delivers a monitor notification: to every
// target, signed, with retries.
func (w *Webhook) NotifyCost(ctx context.Context, n cost.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode cost notification: %w", err)
	}
	return w.post(ctx, body)
}
