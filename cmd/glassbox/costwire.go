package main

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/cost"
	"github.com/glassbox-dev/glassbox/internal/notify"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// costRefreshInterval is how often serve recomputes the cost gauges.
const costRefreshInterval = time.Hour

// costEndpoints holds the endpoints (and their tags) that cost reports
// group by; serve updates it on every endpoint reload.
type costEndpoints struct {
	mu  sync.Mutex
	eps []cost.Endpoint
}

func (c *costEndpoints) apply(eps []config.Endpoint) {
	out := make([]cost.Endpoint, 0, len(eps))
	for _, e := range eps {
		out = append(out, cost.Endpoint{Name: e.Name, Tags: e.Tags})
	}
	c.mu.Lock()
	c.eps = out
	c.mu.Unlock()
}

func (c *costEndpoints) get() []cost.Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eps
}

// newCostService builds the cost service of glassbox serve: GET
// /api/v1/cost and the glassbox_cost_* gauges, over the raw bucket (stored
// sizes, encryption overhead included).
func newCostService(cfg *config.Config, bucket objstore.Bucket, eps *costEndpoints, reg prometheus.Registerer, log *slog.Logger) *cost.Service {
	opts, _ := costOptions(cfg) // cost.go
	so := cost.ServiceOptions{
		Bucket:    bucket,
		Endpoints: eps.get,
		Options:   opts,
		Metrics:   cost.NewMetrics(reg),
		Logger:    log.With("component", "cost"),
	}
	// Budget, anomaly and idle alerts go to the monitor's webhooks once a
	// day (targets were validated with the config).
	if ts := webhookTargets(cfg); len(ts) > 0 {
		if wh, err := notify.NewWebhook(notify.WebhookOptions{Targets: ts, Logger: log.With("component", "notify")}); err == nil {
			so.Notifier = wh
		} else {
			log.Error("cost alerts disabled: webhooks", "err", err)
		}
	}
	return cost.NewService(so)
}
