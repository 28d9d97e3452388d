package digest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// Options configure a Writer.
type Options struct {
	// Bucket is the blob store the digests are written to, and that objects
	// are read back from when their hash was not recorded. It must be the
	// store itself, not an encrypting decorator.
	Bucket objstore.Bucket
	// SigningKey signs every digest.
	SigningKey ed25519.PrivateKey
	// StateDir holds the journal of entries not yet in a digest and the
	// newest digest per endpoint (heads.json). It is created if missing.
	StateDir string
	// Endpoints get a digest every UTC hour even when nothing was stored,
	// so a gap is visible. Endpoints that store or delete objects are
	// added as they do.
	Endpoints []string
	// Hashes, when set, supplies the hashes of stored objects; without it
	// (or when it has none for a key) ObjectStored reads the object back.
	Hashes *RecordingBucket
	// MaxObjects writes a digest early once this many entries are pending
	// for an endpoint. Default 10000.
	MaxObjects int
	// TickInterval is how often Run checks whether a digest is due.
	// Default 30s.
	TickInterval time.Duration
	// Now returns the wall-clock time; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Writer collects the objects stored, deleted and rewritten per endpoint
// and writes the digests (docs/formats/digest.md). Every entry is appended
// to a journal in StateDir and fsynced before the Record call returns, so
// a crash between storing an object and writing its digest loses nothing.
//
// A digest is written for an endpoint on the first Tick after Open (reason
// "start"), whenever the UTC hour changes ("hourly"), when MaxObjects are
// pending ("flush"), and on Close ("shutdown"). At the first digest of an
// endpoint the Writer finds the newest digest in the bucket (or in its
// state folder, if that is newer) and continues its chain.
//
// Writer is safe for concurrent use.
type Writer struct {
	opts  Options
	log   *slog.Logger
	pub   ed25519.PublicKey
	start time.Time

	mu        sync.Mutex // guards pending, endpoints, journal, closed
	pending   map[string][]entry
	endpoints map[string]bool
	journal   *os.File
	closed    bool

	wmu       sync.Mutex // serializes digest writes; guards the fields below
	heads     map[string]*Head
	anchors   map[string]Head
	started   map[string]bool
	published bool
}

// Open loads the journal and the heads from opts.StateDir. It does not
// touch the bucket: a store that is down delays digests, never start-up.
// Start Run to write digests on time.
func Open(opts Options) (*Writer, error) {
	switch {
	case opts.Bucket == nil:
		return nil, errors.New("open digest writer: no bucket")
	case len(opts.SigningKey) != ed25519.PrivateKeySize:
		return nil, errors.New("open digest writer: no Ed25519 signing key")
	case opts.StateDir == "":
		return nil, errors.New("open digest writer: no state folder")
	}
	if opts.MaxObjects <= 0 {
		opts.MaxObjects = 10000
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Writer{
		opts:      opts,
		log:       opts.Logger,
		pub:       opts.SigningKey.Public().(ed25519.PublicKey),
		start:     opts.Now().UTC(),
		pending:   map[string][]entry{},
		endpoints: map[string]bool{},
		heads:     map[string]*Head{},
		started:   map[string]bool{},
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	for _, ep := range opts.Endpoints {
		w.endpoints[ep] = true
	}
	if err := os.MkdirAll(opts.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("open digest writer: %w", err)
	}
	anchors, err := LoadHeads(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("open digest writer: %w", err)
	}
	w.anchors = anchors
	entries, torn, err := loadJournal(filepath.Join(opts.StateDir, journalFile))
	if err != nil {
		return nil, fmt.Errorf("open digest writer: %w", err)
	}
	if torn > 0 {
		w.log.Warn("digest: dropped torn journal lines; their objects are reported again by the spool", "lines", torn)
	}
	for _, e := range entries {
		w.pending[e.Endpoint] = append(w.pending[e.Endpoint], e)
		w.endpoints[e.Endpoint] = true
	}
	// Rewrite the journal so a torn tail never precedes new lines.
	if err := w.rewriteJournalLocked(); err != nil {
		return nil, fmt.Errorf("open digest writer: %w", err)
	}
	return w, nil
}

// PublicKey returns the key that verifies this writer's digests.
func (w *Writer) PublicKey() ed25519.PublicKey { return w.pub }

// ObjectStored records a capture object of endpoint that the bucket has
// just stored under key. The size and hash come from Options.Hashes when
// it saw the Put, else from reading the object back. It implements
// capture.ObjectHook.
func (w *Writer) ObjectStored(ctx context.Context, endpoint, key string) error {
	var (
		size int64
		sum  [32]byte
		ok   bool
	)
	if w.opts.Hashes != nil {
		size, sum, ok = w.opts.Hashes.Take(key)
	}
	if !ok {
		var err error
		if size, sum, err = HashObject(ctx, w.opts.Bucket, key); err != nil {
			return fmt.Errorf("digest: hash stored object %s: %w", key, err)
		}
	}
	return w.RecordObject(ctx, endpoint, key, size, sum)
}

// RecordObject records a stored object whose size and SHA-256 (of the
// bytes as stored) the caller knows.
func (w *Writer) RecordObject(_ context.Context, endpoint, key string, size int64, sum [32]byte) error {
	return w.record(entry{Endpoint: endpoint, Object: &Object{Key: key, Size: size, SHA256: hexSum(sum)}})
}

// RecordDeleted records that the retention sweeper deleted an object (its
// size and hash as stored), so Verify reports it as deleted, not missing.
// Record the deletion before deleting the object.
func (w *Writer) RecordDeleted(_ context.Context, endpoint, key string, size int64, sha256 [32]byte, reason string) error {
	return w.record(entry{Endpoint: endpoint, Deleted: &Deleted{
		Key: key, Size: size, SHA256: hexSum(sha256), Reason: reason, Time: w.opts.Now().UTC()}})
}

// RecordRewritten records that the retention sweeper replaced an object
// (for example with payloads stripped): Verify then expects the new size
// and hash and reports the object as rewritten, not modified.
func (w *Writer) RecordRewritten(_ context.Context, endpoint, key string, oldSize int64, oldSHA [32]byte, newSize int64, newSHA [32]byte, reason string) error {
	return w.record(entry{Endpoint: endpoint, Rewritten: &Rewritten{
		Key: key, OldSize: oldSize, OldSHA256: hexSum(oldSHA), Size: newSize, SHA256: hexSum(newSHA),
		Reason: reason, Time: w.opts.Now().UTC()}})
}

// record journals e (fsynced) and adds it to the pending entries.
func (w *Writer) record(e entry) error {
	if e.Endpoint == "" {
		return errors.New("digest: record: no endpoint")
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("digest: record: %w", err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("digest: record: the writer is closed")
	}
	if _, err := w.journal.Write(line); err != nil {
		return fmt.Errorf("digest: write journal: %w", err)
	}
	if err := w.journal.Sync(); err != nil {
		return fmt.Errorf("digest: sync journal: %w", err)
	}
	w.pending[e.Endpoint] = append(w.pending[e.Endpoint], e)
	w.endpoints[e.Endpoint] = true
	return nil
}

// rewriteJournalLocked replaces the journal with the pending entries and
// reopens it for appending. w.mu must be held (or w not yet shared).
func (w *Writer) rewriteJournalLocked() error {
	var buf bytes.Buffer
	for _, ep := range slices.Sorted(maps.Keys(w.pending)) {
		for _, e := range w.pending[ep] {
			line, err := json.Marshal(e)
			if err != nil {
				return err
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}
	}
	if w.journal != nil {
		w.journal.Close()
		w.journal = nil
	}
	if err := writeFileDurably(w.opts.StateDir, journalFile, buf.Bytes()); err != nil {
		return fmt.Errorf("rewrite digest journal: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(w.opts.StateDir, journalFile), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open digest journal: %w", err)
	}
	w.journal = f
	return nil
}

// Run writes digests when they are due, checking every TickInterval, until
// ctx ends. Failures (a store that is down) are logged and retried at the
// next tick; the entries stay in the journal meanwhile.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.TickInterval)
	defer t.Stop()
	for {
		if err := w.Tick(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("digest: could not write a digest; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick writes every digest that is due now: the first of each endpoint
// since Open, one for each endpoint whose last digest is from an earlier
// UTC hour, and one for each endpoint with MaxObjects entries pending.
func (w *Writer) Tick(ctx context.Context) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	now := w.opts.Now().UTC()
	var errs []error
	for _, ep := range w.endpointList() {
		var reason string
		h := w.heads[ep]
		switch {
		case !w.started[ep]:
			reason = ReasonStart
		case h == nil || !now.Truncate(time.Hour).Equal(h.EndTime.Truncate(time.Hour)):
			reason = ReasonHourly
		case w.pendingCount(ep) >= w.opts.MaxObjects:
			reason = ReasonFlush
		default:
			continue
		}
		if err := w.writeLocked(ctx, ep, reason); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Flush writes a digest for every endpoint now, with reason "flush".
func (w *Writer) Flush(ctx context.Context) error {
	return w.flush(ctx, ReasonFlush)
}

func (w *Writer) flush(ctx context.Context, reason string) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	var errs []error
	for _, ep := range w.endpointList() {
		if err := w.writeLocked(ctx, ep, reason); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close writes a final digest for every endpoint (reason "shutdown"), so
// what was stored up to now is verifiable, and closes the journal. Stop Run
// first and close the capture spool before. Entries that could not be
// written stay in the journal for the next start. Close is idempotent.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	err := w.flush(ctx, ReasonShutdown)
	w.mu.Lock()
	if w.journal != nil {
		if cerr := w.journal.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("digest: close journal: %w", cerr)
		}
		w.journal = nil
	}
	w.mu.Unlock()
	return err
}

func (w *Writer) endpointList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.endpoints))
}

func (w *Writer) pendingCount(ep string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending[ep])
}

// writeLocked writes one digest of ep with the entries pending now. w.wmu
// must be held.
func (w *Writer) writeLocked(ctx context.Context, ep, reason string) error {
	if err := w.publishLocked(ctx); err != nil {
		return err
	}
	prev, err := w.headLocked(ctx, ep)
	if err != nil {
		return err
	}
	w.mu.Lock()
	pend := slices.Clone(w.pending[ep])
	w.mu.Unlock()

	now := w.opts.Now().UTC()
	b := Body{Format: Format, Endpoint: ep, Reason: reason, Sequence: 1, StartTime: w.start, EndTime: now}
	if prev != nil {
		b.Sequence = prev.Sequence + 1
		b.StartTime = prev.EndTime
		b.Previous = &Link{Key: prev.Key, Sequence: prev.Sequence, SHA256: prev.SHA256}
		if b.EndTime.Before(prev.EndTime) { // the clock went back: keep the chain in order
			b.EndTime = prev.EndTime
		}
	}
	if b.StartTime.After(b.EndTime) {
		b.StartTime = b.EndTime
	}
	b.Key = Key(ep, b.EndTime, b.Sequence)
	for _, e := range pend {
		switch {
		case e.Object != nil:
			b.Objects = append(b.Objects, *e.Object)
		case e.Deleted != nil:
			b.Deleted = append(b.Deleted, *e.Deleted)
		case e.Rewritten != nil:
			b.Rewritten = append(b.Rewritten, *e.Rewritten)
		}
	}
	data, err := Sign(&b, w.opts.SigningKey)
	if err != nil {
		return err
	}
	if err := w.opts.Bucket.Put(ctx, b.Key, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("digest: write %s: %w", b.Key, err)
	}
	sum := sha256.Sum256(data)
	h := &Head{Endpoint: ep, Key: b.Key, Sequence: b.Sequence, SHA256: hexSum(sum), EndTime: b.EndTime, Reason: reason}
	w.heads[ep] = h
	w.started[ep] = true
	w.anchors[ep] = *h
	if err := w.saveAnchorsLocked(); err != nil {
		w.log.Warn("digest: could not save the local heads", "err", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[ep] = w.pending[ep][len(pend):]
	if len(w.pending[ep]) == 0 {
		delete(w.pending, ep)
	}
	if err := w.rewriteJournalLocked(); err != nil {
		// The entries are in the digest; at worst they are listed again
		// after a restart, which verification accepts.
		w.log.Warn("digest: could not trim the journal", "err", err)
	}
	return nil
}

func (w *Writer) saveAnchorsLocked() error {
	data, err := json.MarshalIndent(w.anchors, "", "  ")
	if err != nil {
		return err
	}
	return writeFileDurably(w.opts.StateDir, headsFile, data)
}

// publishLocked makes sure the public key document in the bucket is this
// writer's key, once per process.
func (w *Writer) publishLocked(ctx context.Context) error {
	if w.published {
		return nil
	}
	doc, err := NewPublicKeyDoc(w.pub)
	if err != nil {
		return err
	}
	if rc, err := w.opts.Bucket.Get(ctx, PublicKeyKey); err == nil {
		data, rerr := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if rerr == nil {
			if pub, perr := ParsePublicKey(data); perr == nil && pub.Equal(w.pub) {
				w.published = true
				return nil
			}
		}
		w.log.Warn("digest: the published public key is not this server's signing key; replacing it (verifiers should pin the key)",
			"key", PublicKeyKey, "fingerprint", doc.Fingerprint)
	} else if !errors.Is(err, objstore.ErrNotFound) {
		return fmt.Errorf("digest: read %s: %w", PublicKeyKey, err)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := w.opts.Bucket.Put(ctx, PublicKeyKey, bytes.NewReader(append(data, '\n'))); err != nil {
		return fmt.Errorf("digest: publish %s: %w", PublicKeyKey, err)
	}
	w.published = true
	return nil
}

// headLocked returns the newest digest of ep's chain (nil when the chain
// is new), finding it in the bucket at the first call: the digest with the
// greatest key, unless the local anchor names a newer one — then the
// bucket lost its newest digests, and the chain continues from the anchor
// so that the gap shows.
func (w *Writer) headLocked(ctx context.Context, ep string) (*Head, error) {
	if h, ok := w.heads[ep]; ok {
		return h, nil
	}
	var last string
	err := w.opts.Bucket.List(ctx, EndpointPrefix(ep), func(oi objstore.ObjectInfo) error {
		if _, _, ok := parseKey(oi.Key); ok && oi.Key > last {
			last = oi.Key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("digest: find the newest digest of %s: %w", ep, err)
	}
	anchor, hasAnchor := w.anchors[ep]
	if hasAnchor && anchor.Key > last {
		w.log.Error("digest: the newest digest this server wrote is not in the bucket; continuing the chain from it, verification will report the gap",
			"endpoint", ep, "digest", anchor.Key)
		h := anchor
		w.heads[ep] = &h
		return &h, nil
	}
	if last == "" {
		w.heads[ep] = nil
		return nil, nil
	}
	h, err := w.readHead(ctx, ep, last)
	if err != nil {
		return nil, err
	}
	w.heads[ep] = h
	return h, nil
}

// readHead builds the head from the stored digest at key.
func (w *Writer) readHead(ctx context.Context, ep, key string) (*Head, error) {
	rc, err := w.opts.Bucket.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("digest: read %s: %w", key, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxDigestBytes+1))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("digest: read %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	h := &Head{Endpoint: ep, Key: key, SHA256: hexSum(sum)}
	d, err := ParseDigest(data)
	if err == nil {
		err = d.Verify(w.pub)
	}
	if err != nil {
		// Link to it anyway: the chain stays whole and verification
		// reports the bad digest itself.
		w.log.Error("digest: the newest digest in the bucket does not verify with this server's key; continuing its chain",
			"endpoint", ep, "digest", key, "err", err)
	}
	if d != nil {
		h.Sequence, h.EndTime, h.Reason = d.Sequence, d.EndTime, d.Reason
	} else {
		_, h.Sequence, _ = parseKey(key)
		h.EndTime = w.start
	}
	return h, nil
}
