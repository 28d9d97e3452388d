package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// ErrQueueFull is returned by Submit when the bounded queue cannot take the
// exchange; the record is dropped and counted.
var ErrQueueFull = errors.New("capture queue full")

// ErrClosed is returned by Submit after Close has begun.
var ErrClosed = errors.New("capture pipeline closed")

// PipelineOptions configure a Pipeline.
type PipelineOptions struct {
	// QueueMaxRecords bounds the number of queued exchanges.
	QueueMaxRecords int
	// QueueMaxBytes bounds the payload bytes of queued exchanges.
	QueueMaxBytes int64
	// TickInterval is how often open objects are checked for age.
	TickInterval time.Duration
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Metrics receives counters; nil creates unregistered ones.
	Metrics *Metrics
	// Now returns the wall-clock time; nil means time.Now.
	Now func() time.Time
}

// DefaultPipelineOptions returns the defaults used by Glassbox.
func DefaultPipelineOptions() PipelineOptions {
	return PipelineOptions{
		QueueMaxRecords: 10000,
		QueueMaxBytes:   256 << 20,
		TickInterval:    time.Second,
	}
}

// Pipeline is the asynchronous capture path: Submit hands an exchange to a
// bounded in-memory queue without waiting on disk, and one writer goroutine
// turns exchanges into records, groups them into one object per endpoint,
// variant and UTC hour, and writes each object to the bucket when it is old
// enough or big enough. Close drains the queue and writes every open object,
// so a clean shutdown loses nothing.
//
// Pipeline is safe for concurrent use.
type Pipeline struct {
	bucket objstore.Bucket
	opts   PipelineOptions
	log    *slog.Logger
	m      *Metrics

	mu     sync.RWMutex // guards closed against concurrent sends
	closed bool
	queue  chan *Exchange
	qbytes atomic.Int64

	done chan struct{}
	err  error // set by run before done is closed

	// Owned by the writer goroutine.
	blocks  chunkPool
	scratch []byte
}

// openObject is a capture object being assembled.
type openObject struct {
	key      string
	endpoint string
	policy   *Policy
	buf      chunks
	records  int
	opened   time.Time // wall clock, for the age limit
	retryAt  time.Time // after a failed write, no new attempt before this
	failures int
}

type slot struct {
	endpoint, variant string
	hour              int64 // Unix hour
}

// NewPipeline creates a pipeline writing to bucket and starts its writer.
func NewPipeline(bucket objstore.Bucket, opts PipelineOptions) *Pipeline {
	def := DefaultPipelineOptions()
	if opts.QueueMaxRecords <= 0 {
		opts.QueueMaxRecords = def.QueueMaxRecords
	}
	if opts.QueueMaxBytes <= 0 {
		opts.QueueMaxBytes = def.QueueMaxBytes
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = def.TickInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Pipeline{
		bucket: bucket,
		opts:   opts,
		log:    opts.Logger,
		m:      opts.Metrics,
		queue:  make(chan *Exchange, opts.QueueMaxRecords),
		done:   make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.m == nil {
		p.m = NewMetrics(nil)
	}
	go p.run()
	return p
}

// Sample decides whether an exchange of the endpoint is captured and counts
// the decision. It returns false when capture is off.
func (p *Pipeline) Sample(pol *Policy) bool {
	if !pol.Enabled {
		return false
	}
	if Sample(pol.SamplingPercent) {
		p.m.sampled.WithLabelValues(pol.Endpoint).Inc()
		return true
	}
	p.m.sampledOut.WithLabelValues(pol.Endpoint).Inc()
	return false
}

// Submit queues a sampled exchange. It never waits: when the queue is full
// it drops the exchange, counts it, and returns ErrQueueFull. The context is
// unused in asynchronous mode; it is part of the signature so that a durable
// implementation can wait for its fsync.
func (p *Pipeline) Submit(_ context.Context, ex *Exchange) error {
	size := ex.size()
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.drop(ex, DropClosed)
		return ErrClosed
	}
	if p.qbytes.Add(size) > p.opts.QueueMaxBytes {
		p.qbytes.Add(-size)
		p.drop(ex, DropQueueBytes)
		return ErrQueueFull
	}
	select {
	case p.queue <- ex:
		p.m.queueDepth.Inc()
		p.m.queueBytes.Add(float64(size))
		return nil
	default:
		p.qbytes.Add(-size)
		p.drop(ex, DropQueueFull)
		return ErrQueueFull
	}
}

func (p *Pipeline) drop(ex *Exchange, reason string) {
	p.m.dropped.WithLabelValues(ex.Policy.Endpoint, reason).Inc()
	if ex.Release != nil {
		ex.Release()
	}
}

// Close stops accepting exchanges, writes every queued record and open
// object, and waits for the writer to finish or ctx to end. It returns an
// error when some records could not be written.
func (p *Pipeline) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.mu.Unlock()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("close capture pipeline: %w (%d records still queued)", ctx.Err(), len(p.queue))
	}
}

func (p *Pipeline) run() {
	defer close(p.done)
	open := map[slot]*openObject{}
	tick := time.NewTicker(p.opts.TickInterval)
	defer tick.Stop()
	for {
		select {
		case ex, ok := <-p.queue:
			if !ok {
				p.err = p.flushAll(open, true)
				return
			}
			p.add(open, ex)
		case <-tick.C:
			p.flushAged(open)
		}
	}
}

func (p *Pipeline) add(open map[slot]*openObject, ex *Exchange) {
	size := ex.size()
	p.qbytes.Add(-size)
	p.m.queueDepth.Dec()
	p.m.queueBytes.Sub(float64(size))
	p.scratch = AppendLine(p.scratch[:0], ex)
	if ex.Release != nil {
		ex.Release()
	}
	t := ex.Time.UTC()
	s := slot{endpoint: ex.Policy.Endpoint, variant: ex.Variant, hour: t.Truncate(time.Hour).Unix() / 3600}
	obj := open[s]
	if obj == nil {
		obj = &openObject{
			key:      ObjectKey(s.endpoint, s.variant, t, uuid.NewString()),
			endpoint: s.endpoint,
			policy:   ex.Policy,
			opened:   p.opts.Now(),
			buf:      chunks{pool: &p.blocks},
		}
		open[s] = obj
		p.m.openObjects.Inc()
	}
	_, _ = obj.buf.Write(p.scratch)
	obj.records++
	p.m.pendingBytes.Add(float64(len(p.scratch)))
	if int64(obj.buf.Len()) >= maxObjectBytes(obj.policy) && !p.opts.Now().Before(obj.retryAt) {
		if p.flush(obj) == nil {
			delete(open, s)
		}
	}
}

func maxObjectBytes(p *Policy) int64 {
	if p.MaxObjectBytes <= 0 {
		return DefaultMaxObjectBytes
	}
	return p.MaxObjectBytes
}

func maxObjectAge(p *Policy) time.Duration {
	if p.MaxObjectAge <= 0 {
		return DefaultMaxObjectAge
	}
	return p.MaxObjectAge
}

// flushAged writes the objects that reached their age limit. Objects whose
// write failed stay open and are retried on the next tick.
func (p *Pipeline) flushAged(open map[slot]*openObject) {
	now := p.opts.Now()
	for s, obj := range open {
		if now.Sub(obj.opened) >= maxObjectAge(obj.policy) && !now.Before(obj.retryAt) {
			if p.flush(obj) == nil {
				delete(open, s)
			}
		}
	}
}

// flushAll writes every open object, retrying failed writes a few times
// when final is set (shutdown).
func (p *Pipeline) flushAll(open map[slot]*openObject, final bool) error {
	var errs []error
	for s, obj := range open {
		var err error
		for attempt := 1; ; attempt++ {
			if err = p.flush(obj); err == nil || !final || attempt == 3 {
				break
			}
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%d records of %s: %w", obj.records, obj.key, err))
			continue
		}
		delete(open, s)
	}
	return errors.Join(errs...)
}

// flush writes one object to the bucket.
func (p *Pipeline) flush(obj *openObject) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.bucket.Put(ctx, obj.key, obj.buf.reader()); err != nil {
		// Back off (capped) so that a failing store is not hit on every record.
		obj.failures++
		obj.retryAt = p.opts.Now().Add(min(time.Duration(1<<min(obj.failures, 5))*time.Second, 30*time.Second))
		p.m.putFailures.WithLabelValues(obj.endpoint).Inc()
		p.log.Warn("capture object write failed; will retry", "endpoint", obj.endpoint, "key", obj.key, "err", err)
		return fmt.Errorf("write capture object: %w", err)
	}
	p.m.flushDuration.Observe(time.Since(start).Seconds())
	p.m.objects.WithLabelValues(obj.endpoint).Inc()
	p.m.written.WithLabelValues(obj.endpoint).Add(float64(obj.records))
	p.m.bytesWritten.WithLabelValues(obj.endpoint).Add(float64(obj.buf.Len()))
	p.m.openObjects.Dec()
	p.m.pendingBytes.Sub(float64(obj.buf.Len()))
	obj.buf.release()
	return nil
}
