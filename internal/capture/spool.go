package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// ErrSpoolFull is returned (wrapped in a *glassbox.Error with code
// EUnavailable) when a record cannot be accepted because the spool holds
// spool_max_bytes.
var ErrSpoolFull = errors.New("capture spool is full")

// ErrQueueFull is returned by Submit when the bounded queue cannot take an
// asynchronous exchange; the record is dropped and counted.
var ErrQueueFull = errors.New("capture queue full")

// ErrClosed is returned by Submit after Close has begun.
var ErrClosed = errors.New("capture spool closed")

func maxObjectBytes(p *Policy) int64 {
	if p.MaxObjectBytes <= 0 {
		return DefaultMaxObjectBytes
	}
	return p.MaxObjectBytes
}

// SpoolOptions configure a Spool.
type SpoolOptions struct {
	// Dir is the spool folder (storage.spool). It is created if missing.
	Dir string
	// MaxBytes bounds the bytes of segment files on disk.
	MaxBytes int64
	// SegmentBytes seals the active segment when it reaches this size.
	SegmentBytes int64
	// MaxSegmentAge seals the active segment at least this often; it is
	// the shortest max_object_seconds of the endpoints.
	MaxSegmentAge time.Duration
	// FsyncInterval is the group-commit interval of asynchronous records.
	// Synchronous records are fsynced before Submit returns.
	FsyncInterval time.Duration
	// QueueMaxRecords and QueueMaxBytes bound the in-memory hand-off from
	// the gateway to the spool writer.
	QueueMaxRecords int
	QueueMaxBytes   int64
	// UploadRetryMin and UploadRetryMax bound the exponential back-off
	// between attempts to upload a segment's objects.
	UploadRetryMin, UploadRetryMax time.Duration
	// Index, when set, receives an entry for every record once its object
	// is in the blob store; a segment is deleted only after its records are
	// indexed too.
	Index Index
	// ObjectHook, when set, is told about every capture object once it is
	// stored (hook.go); a segment is deleted only after the hook accepted
	// its objects.
	ObjectHook ObjectHook
	// Keys, when set, encrypts the spool (spoolcrypt.go): every segment
	// gets a fresh data key from it and every record frame is sealed with
	// AES-256-GCM, whatever its endpoint. Segments left encrypted by a
	// previous run are read with it; without it they are held.
	Keys keys.Provider
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Metrics receives counters; nil creates unregistered ones.
	Metrics *Metrics
	// Now returns the wall-clock time; nil means time.Now.
	Now func() time.Time
}

// DefaultSpoolOptions returns the defaults Glassbox uses.
func DefaultSpoolOptions() SpoolOptions {
	return SpoolOptions{
		MaxBytes:        1 << 30,
		SegmentBytes:    64 << 20,
		MaxSegmentAge:   DefaultMaxObjectAge,
		FsyncInterval:   200 * time.Millisecond,
		QueueMaxRecords: 10000,
		QueueMaxBytes:   256 << 20,
		UploadRetryMin:  100 * time.Millisecond,
		UploadRetryMax:  30 * time.Second,
	}
}

// Spool is Glassbox's durable capture path, a write-ahead log on local disk
// between the gateway and the blob store:
//
//   - Submit hands an exchange to a bounded queue. For a synchronous
//     endpoint it then waits until the record is fsynced; for an
//     asynchronous one it returns at once.
//   - One writer goroutine encodes records, appends them as checksummed
//     frames to the active segment file, and fsyncs in groups: one fsync
//     covers every record written since the last one, so concurrent
//     synchronous requests share it.
//   - The active segment is sealed when it is big or old enough; one
//     uploader goroutine turns each sealed segment into capture objects (one
//     per endpoint, variant and UTC hour, with keys derived from the segment
//     so a retry overwrites rather than duplicates), and deletes the segment
//     only when every object is in the blob store.
//   - On open, segments left by a previous run are checked frame by frame,
//     a torn tail is truncated and counted, and everything intact is
//     uploaded.
//
// Spool is safe for concurrent use.
type Spool struct {
	bucket objstore.Bucket
	opts   SpoolOptions
	log    *slog.Logger
	m      *Metrics
	dir    string
	ledger *ledger

	mu     sync.RWMutex // guards closed against concurrent sends
	closed bool
	queue  chan *spoolReq
	qbytes atomic.Int64

	// disk accounting, updated by the writer and the uploader
	diskBytes atomic.Int64
	records   atomic.Int64
	broken    atomic.Bool // the last write or fsync failed
	hasActive atomic.Bool // an active segment is open (for the gauge)

	lmu sync.Mutex // guards ledger and its file

	umu      sync.Mutex // guards sealed and oldest
	sealed   []sealedSegment
	oldest   map[uint64]time.Time      // first record time per unsent segment
	segBytes map[uint64]int64          // bytes counted in diskBytes per sealed segment
	ciphers  map[uint64]*segmentCipher // encrypted sealed segments' keys, so the uploader unwraps none
	held     map[uint64]error          // segments that cannot be decrypted: kept, retried, never deleted
	notify   chan struct{}             // wakes the uploader
	stopUp   chan struct{}             // closed when the writer has sealed its last segment
	writerWG sync.WaitGroup
	upDone   chan struct{}
	upCtx    context.Context
	upCancel context.CancelFunc

	// owned by the writer goroutine
	active     *activeSegment
	scratch    []byte
	frame      []byte
	plain      []byte       // payload before sealing, for an encrypted spool
	keyAhead   chan dataKey // the next segment's data key, fetched ahead (spoolcrypt.go)
	keyPending bool         // a fetch ahead is running or its key is in keyAhead
	lastProbe  time.Time    // last attempt to reopen a broken spool
}

type spoolReq struct {
	ex   *Exchange
	size int64
	done chan error // nil for asynchronous records
}

type sealedSegment struct {
	seq     uint64
	created time.Time
}

type activeSegment struct {
	seq       uint64
	created   time.Time
	opened    time.Time // wall clock, for the age limit
	f         *os.File
	w         *bufio.Writer
	size      int64
	records   int64
	dirty     bool // written but not fsynced
	lastSync  time.Time
	slotBytes map[slot]int64
	enc       *segmentCipher // nil: a plain segment
	frames    uint64         // record frames sealed with enc (the next nonce)
}

type slot struct {
	endpoint, variant string
	hour              int64 // Unix hour
}

// OpenSpool opens (or creates) the spool in opts.Dir, recovers what a
// previous run left there, and starts the writer and the uploader.
func OpenSpool(bucket objstore.Bucket, opts SpoolOptions) (*Spool, error) {
	def := DefaultSpoolOptions()
	if opts.Dir == "" {
		return nil, errors.New("open spool: no spool folder configured")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = def.MaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = def.SegmentBytes
	}
	if opts.MaxSegmentAge <= 0 {
		opts.MaxSegmentAge = def.MaxSegmentAge
	}
	if opts.FsyncInterval <= 0 {
		opts.FsyncInterval = def.FsyncInterval
	}
	if opts.QueueMaxRecords <= 0 {
		opts.QueueMaxRecords = def.QueueMaxRecords
	}
	if opts.QueueMaxBytes <= 0 {
		opts.QueueMaxBytes = def.QueueMaxBytes
	}
	if opts.UploadRetryMin <= 0 {
		opts.UploadRetryMin = def.UploadRetryMin
	}
	if opts.UploadRetryMax < opts.UploadRetryMin {
		opts.UploadRetryMax = max(def.UploadRetryMax, opts.UploadRetryMin)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Spool{
		bucket:   bucket,
		opts:     opts,
		log:      opts.Logger,
		m:        opts.Metrics,
		dir:      filepath.Join(opts.Dir, "segments"),
		queue:    make(chan *spoolReq, opts.QueueMaxRecords),
		oldest:   map[uint64]time.Time{},
		segBytes: map[uint64]int64{},
		ciphers:  map[uint64]*segmentCipher{},
		held:     map[uint64]error{},
		keyAhead: make(chan dataKey, 1),
		notify:   make(chan struct{}, 1),
		stopUp:   make(chan struct{}),
		upDone:   make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", opts.Dir, err)
	}
	if err := checkWritable(s.dir); err != nil {
		return nil, fmt.Errorf("open spool %s: the folder is not writable: %w", opts.Dir, err)
	}
	l, err := loadLedger(opts.Dir)
	if err != nil {
		return nil, err
	}
	s.ledger = l
	if err := s.recover(); err != nil {
		return nil, err
	}
	s.upCtx, s.upCancel = context.WithCancel(context.Background())
	s.writerWG.Add(1)
	go s.writeLoop()
	go s.uploadLoop()
	return s, nil
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_, err = f.Write([]byte("ok"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// recover checks the segments a previous run left, truncates torn tails,
// and queues every intact segment for upload.
func (s *Spool) recover() error {
	seqs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	for _, seq := range seqs {
		if seq >= s.ledger.NextSegment {
			s.ledger.NextSegment = seq + 1
		}
		if err := s.admit(seq); err != nil {
			return err
		}
	}
	if len(s.sealed) > 0 {
		s.log.Info("spool: uploading records left by a previous run", "segments", len(s.sealed), "records", s.records.Load())
	}
	s.updateGauges()
	return nil
}

// admit checks a segment left by a previous run (or held): a torn tail is
// truncated, an empty segment removed, an intact one queued for upload, and
// one that cannot be decrypted held.
func (s *Spool) admit(seq uint64) error {
	path := filepath.Join(s.dir, segmentName(seq))
	res, err := scanSegmentWith(path, s.unwrap)
	if err != nil {
		return err
	}
	if res.keyErr != nil {
		s.hold(seq, res.keyErr)
		return nil
	}
	if res.torn {
		lost := "an incomplete record"
		s.m.tornRecords.Inc()
		if res.validEnd == 0 { // not even a header
			lost = "an incomplete segment header"
		}
		s.log.Warn("spool: discarding torn tail", "segment", segmentName(seq), "kept_records", len(res.records), "lost", lost)
		if err := os.Truncate(path, res.validEnd); err != nil {
			return fmt.Errorf("truncate torn spool segment %s: %w", path, err)
		}
	}
	if len(res.records) == 0 {
		return removeSegment(s.dir, seq)
	}
	if err := syncFile(path); err != nil {
		return fmt.Errorf("sync recovered spool segment: %w", err)
	}
	s.diskBytes.Add(res.validEnd)
	s.records.Add(int64(len(res.records)))
	s.umu.Lock()
	s.sealed = append(s.sealed, sealedSegment{seq: seq, created: res.header.created})
	s.oldest[seq] = res.records[0].time
	s.segBytes[seq] = res.validEnd
	if res.c != nil {
		s.ciphers[seq] = res.c
	}
	s.umu.Unlock()
	return nil
}

// unwrap gives scanSegmentWith the cipher of an encrypted segment: the one
// this process made it with, or its data key unwrapped by the provider.
func (s *Spool) unwrap(h segmentHeader, kf keyFrame) (*segmentCipher, error) {
	s.umu.Lock()
	c := s.ciphers[h.seq]
	s.umu.Unlock()
	if c != nil {
		return c, nil
	}
	return unwrapSpoolKey(s.opts.Keys, h, kf)
}

// hold sets aside a segment that cannot be decrypted: it stays in the
// folder (never truncated or deleted), is not counted in the spool's bytes
// or records, and is tried again every heldRetryInterval and at every
// start.
func (s *Spool) hold(seq uint64, reason error) {
	s.umu.Lock()
	_, again := s.held[seq]
	s.held[seq] = reason
	s.umu.Unlock()
	if !again {
		s.log.Error("spool: segment cannot be decrypted; it is kept in the spool folder, not uploaded, and tried again every minute and at the next start (check the keys section: the keyring or KMS key it was written with must be configured)",
			"segment", segmentName(seq), "dir", s.dir, "reason", reason)
	}
}

func (s *Spool) heldCount() int {
	s.umu.Lock()
	defer s.umu.Unlock()
	return len(s.held)
}

// retryHeld tries the held segments again.
func (s *Spool) retryHeld() {
	s.umu.Lock()
	seqs := make([]uint64, 0, len(s.held))
	for seq := range s.held {
		seqs = append(seqs, seq)
	}
	s.umu.Unlock()
	for _, seq := range seqs {
		s.umu.Lock()
		delete(s.held, seq)
		s.umu.Unlock()
		if err := s.admit(seq); err != nil {
			s.hold(seq, err)
		}
	}
	s.updateGauges()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Sample decides whether an exchange of the endpoint is captured and counts
// the decision. It returns false when capture is off.
func (s *Spool) Sample(pol *Policy) bool {
	if !pol.Enabled {
		return false
	}
	if Sample(pol.SamplingPercent) {
		s.m.sampled.WithLabelValues(pol.Endpoint).Inc()
		return true
	}
	s.m.sampledOut.WithLabelValues(pol.Endpoint).Inc()
	return false
}

// Admit reports, before an exchange is forwarded, whether its record could
// be accepted. It refuses only for endpoints whose policy is to reject when
// the spool is full or failing; others are always admitted (and their
// records dropped and counted if the spool cannot take them).
func (s *Spool) Admit(pol *Policy) error {
	if !pol.RejectWhenFull {
		return nil
	}
	if s.diskBytes.Load()+s.qbytes.Load() >= s.opts.MaxBytes {
		s.m.rejected.WithLabelValues(pol.Endpoint, "spool_full").Inc()
		return &glassbox.Error{Code: glassbox.EUnavailable, Err: ErrSpoolFull,
			Message: fmt.Sprintf("endpoint %s records every exchange, and its capture spool is full (%d bytes waiting for the blob store); try again later", pol.Endpoint, s.diskBytes.Load())}
	}
	if s.broken.Load() {
		s.m.rejected.WithLabelValues(pol.Endpoint, "spool_error").Inc()
		return glassbox.Errorf(glassbox.EUnavailable, "endpoint %s records every exchange, and its capture spool cannot be written right now; try again later", pol.Endpoint)
	}
	return nil
}

// Submit hands over a sampled exchange. For a synchronous endpoint it
// returns once the record is fsynced in the spool (nil), or with the reason
// it could not be made durable; the caller must then not report success.
// For an asynchronous endpoint it returns at once; a record the queue cannot
// take is dropped and counted, and ErrQueueFull returned.
func (s *Spool) Submit(ctx context.Context, ex *Exchange) error {
	req := &spoolReq{ex: ex, size: ex.size()}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		s.drop(ex, DropClosed)
		return ErrClosed
	}
	if !ex.Policy.Sync {
		defer s.mu.RUnlock()
		if s.qbytes.Add(req.size) > s.opts.QueueMaxBytes {
			s.qbytes.Add(-req.size)
			s.drop(ex, DropQueueBytes)
			return ErrQueueFull
		}
		select {
		case s.queue <- req:
			s.m.queueDepth.Inc()
			s.m.queueBytes.Add(float64(req.size))
			return nil
		default:
			s.qbytes.Add(-req.size)
			s.drop(ex, DropQueueFull)
			return ErrQueueFull
		}
	}
	// Synchronous: wait for room (back-pressure, never a silent drop), then
	// for the fsync.
	req.done = make(chan error, 1)
	s.qbytes.Add(req.size)
	select {
	case s.queue <- req:
		s.m.queueDepth.Inc()
		s.m.queueBytes.Add(float64(req.size))
		s.mu.RUnlock()
	case <-ctx.Done():
		s.qbytes.Add(-req.size)
		s.mu.RUnlock()
		s.drop(ex, DropClosed)
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Spool) drop(ex *Exchange, reason string) {
	s.m.dropped.WithLabelValues(ex.Policy.Endpoint, reason).Inc()
	if ex.Release != nil {
		ex.Release()
	}
}

// Close stops accepting exchanges, writes and seals everything queued, and
// uploads every sealed segment, retrying until ctx ends. Segments still
// unsent then stay in the spool folder and are uploaded at the next start;
// Close reports them in its error.
func (s *Spool) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	writerDone := make(chan struct{})
	go func() { s.writerWG.Wait(); close(writerDone) }()
	select {
	case <-writerDone:
	case <-ctx.Done():
		return fmt.Errorf("close capture spool: %w (the writer is still busy)", ctx.Err())
	}
	select {
	case <-s.upDone:
	case <-ctx.Done():
		s.upCancel()
		<-s.upDone
	}
	s.umu.Lock()
	n, held := len(s.sealed), len(s.held)
	s.umu.Unlock()
	if n == 0 && held == 0 {
		return nil
	}
	if n == 0 {
		return fmt.Errorf("close capture spool: %d segments cannot be decrypted with the configured keys; they stay in %s and are tried again at the next start",
			held, s.opts.Dir)
	}
	return fmt.Errorf("close capture spool: %d segments with %d records are not yet in %s (and %d cannot be decrypted); they stay in %s and are uploaded at the next start",
		n, s.records.Load(), s.bucket, held, s.opts.Dir)
}

// ---- writer ----

func (s *Spool) writeLoop() {
	defer s.writerWG.Done()
	defer close(s.stopUp)
	tick := time.NewTicker(min(s.opts.FsyncInterval, time.Second))
	defer tick.Stop()
	batch := make([]*spoolReq, 0, 256)
	for {
		select {
		case req, ok := <-s.queue:
			if !ok {
				s.seal()
				return
			}
			batch = append(batch[:0], req)
			closing := false
		drain:
			for len(batch) < cap(batch) {
				select {
				case r, ok := <-s.queue:
					if !ok {
						closing = true
						break drain
					}
					batch = append(batch, r)
				default:
					break drain
				}
			}
			s.writeBatch(batch)
			if closing {
				s.seal()
				return
			}
		case <-tick.C:
			s.tick()
		}
	}
}

// writeBatch appends a batch of records, fsyncs when a synchronous record
// is among them or the group-commit interval has passed, and answers the
// synchronous callers.
func (s *Spool) writeBatch(batch []*spoolReq) {
	needSync := false
	var written []*spoolReq
	for _, r := range batch {
		s.qbytes.Add(-r.size)
		s.m.queueDepth.Dec()
		s.m.queueBytes.Sub(float64(r.size))
		ex := r.ex
		if s.diskBytes.Load() >= s.opts.MaxBytes {
			s.refuse(r, DropSpoolFull, &glassbox.Error{Code: glassbox.EUnavailable, Err: ErrSpoolFull,
				Message: "capture spool is full; the record was not written"})
			continue
		}
		if y := ex.Time.Year(); y < 1678 || y > 2261 {
			ex.Time = s.opts.Now() // a frame holds int64 Unix nanoseconds
		}
		var rerr error
		if s.scratch, rerr = appendLineRedacted(s.scratch[:0], ex); rerr != nil {
			s.refuse(r, DropRedactionFailed, &glassbox.Error{Code: glassbox.EUnavailable, Err: rerr,
				Message: "capture record could not be redacted; it was not written"})
			continue
		}
		t := ex.Time.UTC()
		endpoint, variant := ex.Policy.Endpoint, ex.Variant
		pol := ex.Policy
		if ex.Release != nil {
			ex.Release()
			ex.Release = nil
		}
		if err := s.append(t, endpoint, variant, s.scratch); err != nil {
			s.fail(err)
			s.refuse(r, DropSpoolError, &glassbox.Error{Code: glassbox.EUnavailable, Err: err,
				Message: "capture spool could not be written"})
			continue
		}
		sl := slot{endpoint: endpoint, variant: variant, hour: t.Truncate(time.Hour).Unix() / 3600}
		s.active.slotBytes[sl] += int64(len(s.scratch))
		s.m.written.WithLabelValues(endpoint).Inc()
		s.m.bytesWritten.WithLabelValues(endpoint).Add(float64(len(s.scratch)))
		if r.done != nil {
			needSync = true
		}
		written = append(written, r)
		if s.active.slotBytes[sl] >= maxObjectBytes(pol) || s.active.size >= s.opts.SegmentBytes {
			// Sealing fsyncs, so the records written so far are durable.
			if err := s.sealActive(); err != nil {
				s.answer(written, err)
				written = written[:0]
				continue
			}
			s.answer(written, nil)
			written = written[:0]
			needSync = false
		}
	}
	// Asynchronous records stay in the write buffer (flushed when it fills)
	// until the group-commit interval, which saves a write call per batch;
	// a synchronous record flushes and fsyncs the whole batch at once.
	if s.active != nil && s.active.dirty && (needSync || s.opts.Now().Sub(s.active.lastSync) >= s.opts.FsyncInterval) {
		if err := s.active.w.Flush(); err != nil {
			s.fail(err)
			s.answer(written, err)
			s.abandonActive()
			return
		}
		if err := s.fsync(); err != nil {
			s.answer(written, err)
			s.abandonActive()
			return
		}
	}
	s.answer(written, nil)
	if s.active != nil && s.opts.Now().Sub(s.active.opened) >= s.opts.MaxSegmentAge {
		s.seal()
	}
}

// refuse fails one record that could not be written: a synchronous caller
// gets err; an asynchronous record is dropped and counted.
func (s *Spool) refuse(r *spoolReq, reason string, err error) {
	if r.ex.Release != nil {
		r.ex.Release()
		r.ex.Release = nil
	}
	if r.done != nil {
		s.m.rejected.WithLabelValues(r.ex.Policy.Endpoint, reason).Inc()
		r.done <- err
		return
	}
	s.m.dropped.WithLabelValues(r.ex.Policy.Endpoint, reason).Inc()
}

// answer tells the synchronous callers among written whether their records
// are durable.
func (s *Spool) answer(written []*spoolReq, err error) {
	for _, r := range written {
		if r.done != nil {
			var rerr error
			if err != nil {
				s.m.rejected.WithLabelValues(r.ex.Policy.Endpoint, DropSpoolError).Inc()
				rerr = &glassbox.Error{Code: glassbox.EUnavailable, Err: err, Message: "capture spool could not be synced"}
			}
			r.done <- rerr
		}
	}
}

func (s *Spool) fail(err error) {
	s.m.writeErrors.Inc()
	if !s.broken.Swap(true) {
		s.log.Error("spool write failed; records are being refused or dropped until it works again", "dir", s.opts.Dir, "err", err)
	}
}

// append writes the frame of one record to the active segment, opening
// one if needed; in an encrypted segment its payload is sealed first.
func (s *Spool) append(t time.Time, endpoint, variant string, line []byte) error {
	if s.active == nil {
		if err := s.openActive(); err != nil {
			return err
		}
	}
	a := s.active
	if a.enc == nil {
		s.frame = appendFrame(s.frame[:0], t, endpoint, variant, line)
	} else {
		s.plain = appendRecordPayload(s.plain[:0], t, endpoint, variant, line)
		s.frame = a.enc.sealFrame(s.frame[:0], s.plain, a.frames)
		a.frames++ // even if the write fails: a nonce is never used twice
	}
	frame := s.frame
	if _, err := a.w.Write(frame); err != nil {
		return fmt.Errorf("write spool segment: %w", err)
	}
	if a.records == 0 {
		s.umu.Lock()
		s.oldest[a.seq] = t
		s.umu.Unlock()
	}
	a.size += int64(len(frame))
	a.records++
	a.dirty = true
	s.diskBytes.Add(int64(len(frame)))
	s.records.Add(1)
	return nil
}

// openActive creates the next segment file. The ledger is advanced first
// so that a segment number is never used twice.
func (s *Spool) openActive() error {
	s.lmu.Lock()
	seq := s.ledger.NextSegment
	s.ledger.NextSegment++
	err := s.ledger.save(filepath.Dir(s.dir))
	if err != nil {
		s.ledger.NextSegment--
	}
	s.lmu.Unlock()
	if err != nil {
		return err
	}
	now := s.opts.Now()
	var enc *segmentCipher
	var kf keyFrame
	if s.opts.Keys != nil {
		// Before the file exists: without a key nothing is written.
		if enc, kf, err = s.segmentKey(seq, now); err != nil {
			return err
		}
	}
	path := filepath.Join(s.dir, segmentName(seq))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create spool segment: %w", err)
	}
	a := &activeSegment{seq: seq, created: now, opened: now, f: f, lastSync: now,
		w: bufio.NewWriterSize(f, 256<<10), slotBytes: map[slot]int64{}, enc: enc}
	hdr := appendSegmentHeader(nil, segmentHeader{seq: seq, created: now, encrypted: enc != nil})
	if enc != nil {
		hdr = appendKeyFrame(hdr, kf)
	}
	_, err = a.w.Write(hdr)
	if err == nil {
		err = a.w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("create spool segment: %w", err)
	}
	a.size = int64(len(hdr))
	s.diskBytes.Add(a.size)
	s.active = a
	s.hasActive.Store(true)
	s.broken.Store(false)
	s.updateGauges()
	return nil
}

func (s *Spool) fsync() error {
	start := time.Now()
	if err := s.active.f.Sync(); err != nil {
		s.fail(err)
		return fmt.Errorf("fsync spool segment: %w", err)
	}
	s.m.fsyncs.Inc()
	s.m.fsyncDuration.Observe(time.Since(start).Seconds())
	s.active.dirty = false
	s.active.lastSync = s.opts.Now()
	return nil
}

// tick runs the group commit of asynchronous records and the age limit.
func (s *Spool) tick() {
	if a := s.active; a != nil {
		if a.dirty && s.opts.Now().Sub(a.lastSync) >= s.opts.FsyncInterval {
			if err := a.w.Flush(); err != nil {
				s.fail(err)
				s.abandonActive()
			} else if err := s.fsync(); err != nil {
				s.abandonActive()
			}
		}
		if s.active != nil && s.opts.Now().Sub(s.active.opened) >= s.opts.MaxSegmentAge {
			s.seal()
		}
	} else if s.broken.Load() && s.opts.Now().Sub(s.lastProbe) >= time.Second {
		// While broken, Admit refuses reject-policy exchanges before they
		// reach the writer, so no record would ever try the disk again:
		// probe once a second by opening a segment (success clears broken;
		// an empty segment is removed when it is sealed).
		s.lastProbe = s.opts.Now()
		if err := s.openActive(); err != nil {
			s.m.writeErrors.Inc()
		}
	}
	s.updateGauges()
}

// seal closes the active segment, if any, and hands it to the uploader.
func (s *Spool) seal() {
	if s.active == nil {
		return
	}
	if err := s.sealActive(); err != nil {
		s.abandonActive()
	}
}

// sealActive flushes, fsyncs and closes the active segment and queues it
// for upload.
func (s *Spool) sealActive() error {
	a := s.active
	if err := a.w.Flush(); err != nil {
		s.fail(err)
		return fmt.Errorf("flush spool segment: %w", err)
	}
	if a.dirty {
		if err := s.fsync(); err != nil {
			return err
		}
	}
	if err := a.f.Close(); err != nil {
		s.fail(err)
		return fmt.Errorf("close spool segment: %w", err)
	}
	s.active = nil
	s.hasActive.Store(false)
	s.enqueueSealed(a)
	return nil
}

// abandonActive stops writing to a segment that failed. What reached the
// file is still uploaded (the uploader checks every frame); the next record
// opens a fresh segment.
func (s *Spool) abandonActive() {
	a := s.active
	if a == nil {
		return
	}
	_ = a.f.Close()
	s.active = nil
	s.hasActive.Store(false)
	s.enqueueSealed(a)
}

func (s *Spool) enqueueSealed(a *activeSegment) {
	if a.records == 0 {
		s.diskBytes.Add(-a.size)
		if err := removeSegment(s.dir, a.seq); err != nil {
			s.log.Warn("spool: could not remove an empty segment", "segment", segmentName(a.seq), "err", err)
		}
		s.updateGauges()
		return
	}
	s.umu.Lock()
	s.sealed = append(s.sealed, sealedSegment{seq: a.seq, created: a.created})
	s.segBytes[a.seq] = a.size
	if a.enc != nil {
		s.ciphers[a.seq] = a.enc
	}
	s.umu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	s.updateGauges()
}

func (s *Spool) updateGauges() {
	s.m.spoolBytes.Set(float64(s.diskBytes.Load()))
	s.m.spoolRecords.Set(float64(s.records.Load()))
	s.umu.Lock()
	segs := len(s.sealed)
	s.m.spoolHeld.Set(float64(len(s.held)))
	var oldest time.Time
	for _, t := range s.oldest {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	s.umu.Unlock()
	if s.hasActive.Load() {
		segs++
	}
	s.m.spoolSegments.Set(float64(segs))
	if oldest.IsZero() {
		s.m.oldestUnsent.Set(0)
	} else {
		s.m.oldestUnsent.Set(s.opts.Now().Sub(oldest).Seconds())
	}
}

// ---- uploader ----

// uploadLoop uploads sealed segments in order. It never gives up on a
// segment: failures back off exponentially (capped) and retry, while the
// spool absorbs new records up to its limit. It returns once the writer has
// stopped and every segment is uploaded, or when Close gives up.
func (s *Spool) uploadLoop() {
	defer close(s.upDone)
	backoff := s.opts.UploadRetryMin
	writerStopped := false
	for {
		s.umu.Lock()
		var next *sealedSegment
		if len(s.sealed) > 0 {
			next = &s.sealed[0]
		}
		s.umu.Unlock()
		if next == nil {
			if writerStopped {
				return
			}
			var retryHeld <-chan time.Time
			if s.heldCount() > 0 {
				retryHeld = time.After(heldRetryInterval)
			}
			select {
			case <-s.notify:
			case <-s.stopUp:
				writerStopped = true
			case <-retryHeld:
				s.retryHeld()
			case <-s.upCtx.Done():
				return
			}
			continue
		}
		err := s.uploadSegment(s.upCtx, *next)
		if err == nil {
			backoff = s.opts.UploadRetryMin
			continue
		}
		if s.upCtx.Err() != nil {
			return
		}
		s.log.Warn("spool: upload failed; will retry", "segment", segmentName(next.seq), "retry_in", backoff.String(), "err", err)
		select {
		case <-time.After(backoff):
		case <-s.upCtx.Done():
			return
		}
		backoff = min(backoff*2, s.opts.UploadRetryMax)
	}
}

// group is the records of one endpoint, variant and hour in a segment.
type group struct {
	slot    slot
	first   time.Time
	records int
	r       spanReader
}

// uploadSegment writes a sealed segment's objects and then deletes it.
// Object keys are derived from the spool id, the segment and the group, so
// a retry after a failure or a crash replaces objects instead of adding
// duplicates.
func (s *Spool) uploadSegment(ctx context.Context, seg sealedSegment) error {
	path := filepath.Join(s.dir, segmentName(seg.seq))
	res, err := scanSegmentWith(path, s.unwrap)
	if err != nil {
		return err
	}
	if res.keyErr != nil {
		// Read at recovery or written here, so only a change of the file
		// since gets here: hold it rather than retry it forever.
		s.umu.Lock()
		size := s.segBytes[seg.seq]
		s.sealed = s.sealed[1:]
		delete(s.oldest, seg.seq)
		delete(s.segBytes, seg.seq)
		delete(s.ciphers, seg.seq)
		s.umu.Unlock()
		s.diskBytes.Add(-size)
		s.records.Add(-int64(len(res.records)))
		s.hold(seg.seq, res.keyErr)
		s.updateGauges()
		return nil
	}
	if res.torn {
		// Only a failing disk corrupts a sealed segment; keep what is good.
		if err := os.Truncate(path, res.validEnd); err != nil {
			return fmt.Errorf("truncate damaged spool segment: %w", err)
		}
		s.m.tornRecords.Inc()
		s.log.Error("spool: sealed segment is damaged after its last good record; uploading the good records", "segment", segmentName(seg.seq), "records", len(res.records))
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open spool segment: %w", err)
	}
	defer f.Close()
	var groups []*group
	index := map[slot]*group{}
	for _, rec := range res.records {
		sl := slot{endpoint: rec.endpoint, variant: rec.variant, hour: rec.time.Truncate(time.Hour).Unix() / 3600}
		g := index[sl]
		if g == nil {
			g = &group{slot: sl, first: rec.time, r: spanReader{f: f, c: res.c}}
			index[sl] = g
			groups = append(groups, g)
		}
		g.records++
		g.r.addRecord(rec)
	}
	for _, g := range groups {
		id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "glassbox-spool/%s/%d/%d/%s/%s/%d",
			s.ledger.SpoolID, seg.seq, res.header.created.UnixNano(), g.slot.endpoint, g.slot.variant, g.slot.hour))
		key := ObjectKey(g.slot.endpoint, g.slot.variant, g.first, id.String())
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_, _ = g.r.Seek(0, 0)
		err := s.bucket.Put(pctx, key, &g.r)
		cancel()
		if err != nil {
			s.m.uploads.WithLabelValues("failed").Inc()
			return fmt.Errorf("upload %s: %w", key, err)
		}
		s.m.uploads.WithLabelValues("ok").Inc()
		s.m.uploadLatency.Observe(time.Since(start).Seconds())
		s.m.uploadBytes.Add(float64(g.r.total))
		s.m.objects.WithLabelValues(g.slot.endpoint).Inc()
		if s.opts.ObjectHook != nil {
			if err := s.opts.ObjectHook.ObjectStored(ctx, g.slot.endpoint, key); err != nil {
				return fmt.Errorf("record %s: %w", key, err)
			}
		}
		if s.opts.Index != nil {
			if err := s.index(ctx, g, key); err != nil {
				return fmt.Errorf("index %s: %w", key, err)
			}
		}
	}
	f.Close()
	s.umu.Lock()
	size := s.segBytes[seg.seq]
	s.umu.Unlock()
	if err := removeSegment(s.dir, seg.seq); err != nil {
		return err
	}
	for _, g := range groups {
		s.m.uploaded.WithLabelValues(g.slot.endpoint).Add(float64(g.records))
	}
	s.diskBytes.Add(-size)
	s.records.Add(-int64(len(res.records)))
	s.umu.Lock()
	s.sealed = s.sealed[1:]
	delete(s.oldest, seg.seq)
	delete(s.segBytes, seg.seq)
	delete(s.ciphers, seg.seq)
	s.umu.Unlock()
	s.lmu.Lock()
	s.ledger.UploadedSegments++
	s.ledger.UploadedRecords += uint64(len(res.records))
	if err := s.ledger.save(filepath.Dir(s.dir)); err != nil {
		// The counts are informational; the segment is already gone.
		s.log.Warn("spool: could not update the ledger's counts", "err", err)
	}
	s.lmu.Unlock()
	s.updateGauges()
	return nil
}

// index records the index entries of one uploaded group.
func (s *Spool) index(ctx context.Context, g *group, key string) error {
	info := ObjectKeyInfo{Endpoint: g.slot.endpoint, Variant: g.slot.variant, Hour: time.Unix(g.slot.hour*3600, 0).UTC()}
	entries := make([]IndexEntry, 0, min(len(g.r.spans), 1000))
	for i := range g.r.spans {
		b, err := g.r.line(i)
		if err != nil {
			return err
		}
		if e, ok := entryFromLine(info, key, i+1, b); ok {
			entries = append(entries, e)
		}
		if len(entries) == cap(entries) || i == len(g.r.spans)-1 {
			if err := s.opts.Index.IndexCaptures(ctx, entries); err != nil {
				return err
			}
			entries = entries[:0]
		}
	}
	return nil
}
