package capture

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons, the "reason" label of glassbox_capture_records_dropped_total.
const (
	DropQueueFull  = "queue_full"  // the queue held queue_max_records
	DropQueueBytes = "queue_bytes" // the queue held queue_max_bytes
	DropClosed     = "closed"      // submitted after shutdown began
	DropSpoolFull  = "spool_full"  // the spool held spool_max_bytes (on_spool_full: shed)
	DropSpoolError = "spool_error" // the spool could not be written (disk full, I/O error)
)

// Metrics are the capture pipeline's Prometheus metrics.
type Metrics struct {
	sampled      *prometheus.CounterVec
	sampledOut   *prometheus.CounterVec
	written      *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	bytesWritten *prometheus.CounterVec
	objects      *prometheus.CounterVec
	queueDepth   prometheus.Gauge
	queueBytes   prometheus.Gauge

	spoolBytes    prometheus.Gauge
	spoolRecords  prometheus.Gauge
	spoolSegments prometheus.Gauge
	oldestUnsent  prometheus.Gauge
	fsyncs        prometheus.Counter
	fsyncDuration prometheus.Histogram
	tornRecords   prometheus.Counter
	spoolHeld     prometheus.Gauge
	writeErrors   prometheus.Counter
	uploaded      *prometheus.CounterVec
	uploads       *prometheus.CounterVec
	uploadBytes   prometheus.Counter
	uploadLatency prometheus.Histogram
	rejected      *prometheus.CounterVec
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
			Help: "Capture records written to the spool (durable locally once fsynced).",
		}, []string{"endpoint"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_records_dropped_total",
			Help: "Sampled capture records that were not written, by reason.",
		}, []string{"endpoint", "reason"}),
		bytesWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_bytes_written_total",
			Help: "Bytes of capture lines written to the spool.",
		}, []string{"endpoint"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_objects_written_total",
			Help: "Capture objects written to the blob store.",
		}, []string{"endpoint"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_capture_queue_records",
			Help: "Exchanges waiting in the capture queue.",
		}),
		queueBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_capture_queue_bytes",
			Help: "Payload bytes waiting in the capture queue.",
		}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_spool_bytes",
			Help: "Bytes of spool segments on disk (written, not yet confirmed in the blob store).",
		}),
		spoolRecords: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_spool_records",
			Help: "Records in the spool not yet confirmed in the blob store.",
		}),
		spoolSegments: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_spool_segments",
			Help: "Spool segment files on disk, the active one included.",
		}),
		oldestUnsent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_spool_oldest_unsent_age_seconds",
			Help: "Age of the oldest record not yet confirmed in the blob store (0 when none).",
		}),
		fsyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "glassbox_spool_fsyncs_total",
			Help: "Group commits: fsyncs of the active spool segment.",
		}),
		fsyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "glassbox_spool_fsync_duration_seconds",
			Help:    "Duration of spool fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 10),
		}),
		tornRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "glassbox_spool_torn_records_discarded_total",
			Help: "Incomplete or corrupt records found at the tail of a spool segment at start and discarded.",
		}),
		spoolHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "glassbox_spool_segments_undecryptable",
			Help: "Encrypted spool segments that cannot be decrypted with the configured keys; kept in the spool folder, not uploaded.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "glassbox_spool_write_errors_total",
			Help: "Failed writes or fsyncs of the spool (disk full, I/O errors).",
		}),
		uploaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_records_uploaded_total",
			Help: "Capture records confirmed in the blob store.",
		}, []string{"endpoint"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_upload_objects_total",
			Help: "Capture object uploads to the blob store, by result (ok, failed).",
		}, []string{"result"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "glassbox_upload_bytes_total",
			Help: "Bytes of capture objects uploaded to the blob store.",
		}),
		uploadLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "glassbox_upload_duration_seconds",
			Help:    "Time to upload one capture object.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10),
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_capture_rejected_total",
			Help: "Exchanges refused with 503 because their record could not be made durable (spool full or failing).",
		}, []string{"endpoint", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.sampled, m.sampledOut, m.written, m.dropped, m.bytesWritten,
			m.objects, m.queueDepth, m.queueBytes,
			m.spoolBytes, m.spoolRecords, m.spoolSegments, m.oldestUnsent, m.fsyncs,
			m.fsyncDuration, m.tornRecords, m.spoolHeld, m.writeErrors, m.uploaded, m.uploads,
			m.uploadBytes, m.uploadLatency, m.rejected)
	}
	return m
}
