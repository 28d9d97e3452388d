package gateway

import "github.com/prometheus/client_golang/prometheus"

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
