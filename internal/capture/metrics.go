package capture

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons, the "reason" label of glassbox_capture_records_dropped_total.
const (
	DropQueueFull  = "queue_full"  // the queue held queue_max_records
	DropQueueBytes = "queue_bytes" // the queue held queue_max_bytes
	DropClosed     = "closed"      // submitted after shutdown began
)

// Metrics are the capture pipeline's Prometheus metrics.
type Metrics struct {
	sampled       *prometheus.CounterVec
	sampledOut    *prometheus.CounterVec
	written       *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	bytesWritten  *prometheus.CounterVec
	objects       *prometheus.CounterVec
	putFailures   *prometheus.CounterVec
	queueDepth    prometheus.Gauge
	queueBytes    prometheus.Gauge
	openObjects   prometheus.Gauge
	pendingBytes  prometheus.Gauge
	flushDuration prometheus.Histogram
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, still usable).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sampled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_sampled_total",
			Help: "Exchanges selected for capture by sampling.",
		}, []string{"endpoint"}),
		sampledOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_sampled_out_total",
			Help: "Exchanges not captured because sampling left them out.",
		}, []string{"endpoint"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_records_written_total",
			Help: "Capture records written to the blob store.",
		}, []string{"endpoint"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_records_dropped_total",
			Help: "Sampled capture records that were not written, by reason.",
		}, []string{"endpoint", "reason"}),
		bytesWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_bytes_written_total",
			Help: "Bytes of capture objects written to the blob store.",
		}, []string{"endpoint"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_objects_written_total",
			Help: "Capture objects written to the blob store.",
		}, []string{"endpoint"}),
		putFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_object_put_failures_total",
			Help: "Failed attempts to write a capture object (retried).",
		}, []string{"endpoint"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_capture_queue_records",
			Help: "Exchanges waiting in the capture queue.",
		}),
		queueBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_capture_queue_bytes",
			Help: "Payload bytes waiting in the capture queue.",
		}),
		openObjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_capture_open_objects",
			Help: "Capture objects being assembled and not yet written.",
		}),
		pendingBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_capture_pending_bytes",
			Help: "Bytes of capture objects being assembled and not yet written.",
		}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "glassbox_capture_object_write_duration_seconds",
			Help:    "Time to write one capture object to the blob store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.sampled, m.sampledOut, m.written, m.dropped, m.bytesWritten,
			m.objects, m.putFailures, m.queueDepth, m.queueBytes, m.openObjects,
			m.pendingBytes, m.flushDuration)
	}
	return m
}
