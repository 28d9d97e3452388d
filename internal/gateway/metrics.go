package gateway

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_gateway_requests_total",
			Help: "Requests answered by the gateway, by endpoint, variant and HTTP status.",
		}, []string{"endpoint", "variant", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "glassbox_gateway_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its response, by endpoint, variant and HTTP status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"endpoint", "variant", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_gateway_requests_in_flight",
			Help: "Requests being served.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.inFlight)
	}
	return m
}

// seriesCache holds the request counter and latency observer of one
// endpoint/variant per HTTP status, created on first use, so that the hot
// path does not hash label values on every request.
type seriesCache struct {
	m        *metrics
	endpoint string
	variant  string
	byCode   [600]atomic.Pointer[series]
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) cache(endpoint, variant string) *seriesCache {
	return &seriesCache{m: m, endpoint: endpoint, variant: variant}
}

// observe counts one answered request and its latency.
func (c *seriesCache) observe(status int, d time.Duration) {
	var s *series
	if status >= 0 && status < len(c.byCode) {
		s = c.byCode[status].Load()
	}
	if s == nil {
		code := strconv.Itoa(status)
		s = &series{
			requests: c.m.requests.WithLabelValues(c.endpoint, c.variant, code),
			duration: c.m.duration.WithLabelValues(c.endpoint, c.variant, code),
		}
		if status >= 0 && status < len(c.byCode) {
			c.byCode[status].Store(s)
		}
	}
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}
