package capture

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// This file holds the retention sweeper (docs/retention.md). It lives in
// capture because capture owns the capture objects and their format: the
// sweeper parses keys (ParseObjectKey) and rewrites lines (DecodeRecord,
// AppendRecord). The digest chain and the audit log are reached through
// the consumer-side interfaces DigestRecorder and RetentionAudit, so
// capture imports neither internal/digest nor internal/audit (both are
// domain packages of the same rank; see internal/archtest).

// Retention actions, the values of RetentionAction.Kind.
const (
	// RetentionDelete removes an object past capture.retention_days.
	RetentionDelete = "delete"
	// RetentionStrip rewrites an object past
	// capture.payload_retention_days with every payload's data emptied.
	RetentionStrip = "strip"
)

// RetentionRule is the retention of one endpoint's capture objects.
type RetentionRule struct {
	// Endpoint names the endpoint; its objects are those under
	// "{Endpoint}/".
	Endpoint string
	// Objects is how long objects are kept after their hour ends; 0 keeps
	// them forever.
	Objects time.Duration
	// Payloads is how long payload data is kept after the object's hour
	// ends; 0 keeps it as long as the object. When both are set, Payloads
	// is less than Objects (config validates it).
	Payloads time.Duration
	// ObjectDays and PayloadDays are the configured values, for the reason
	// recorded with each action ("retention_days=30"). Zero values are
	// derived from the durations.
	ObjectDays, PayloadDays int
}

// Decide returns what is due for an object of the UTC hour starting at
// hour, at time now: RetentionDelete, RetentionStrip or "" (keep as is).
//
// An object covers [hour, hour+1h). It is deleted once that whole span lies
// more than Objects in the past, that is when hour+1h <= now-Objects; the
// same rule with Payloads decides stripping. Deletion wins.
func (r RetentionRule) Decide(hour, now time.Time) string {
	end := hour.Add(time.Hour)
	switch {
	case r.Objects > 0 && !end.After(now.Add(-r.Objects)):
		return RetentionDelete
	case r.Payloads > 0 && !end.After(now.Add(-r.Payloads)):
		return RetentionStrip
	}
	return ""
}

// reason is the rule that makes kind due, as recorded in the digest chain
// and the audit log: "retention_days=30" or "payload_retention_days=7".
func (r RetentionRule) reason(kind string) string {
	days := func(n int, d time.Duration) string {
		if n == 0 {
			n = int(d / (24 * time.Hour))
		}
		return strconv.Itoa(n)
	}
	if kind == RetentionDelete {
		return "retention_days=" + days(r.ObjectDays, r.Objects)
	}
	return "payload_retention_days=" + days(r.PayloadDays, r.Payloads)
}

// RetentionAction is one deletion or rewrite, done or (in a dry run)
// planned.
type RetentionAction struct {
	// Kind is RetentionDelete or RetentionStrip.
	Kind     string
	Endpoint string
	// Key is the object's key in the bucket.
	Key string
	// Hour is the start of the UTC hour the object covers.
	Hour time.Time
	// Reason is the rule applied: "retention_days=N" or
	// "payload_retention_days=N".
	Reason string
	// Size and SHA256 describe the object as stored before the action
	// (Size as listed and SHA256 zero in a dry run, where nothing is read
	// for a deletion).
	Size   int64
	SHA256 [32]byte
	// NewSize and NewSHA256 describe the rewritten object as stored
	// (RetentionStrip only; zero in a dry run).
	NewSize   int64
	NewSHA256 [32]byte
	// Time is when the action was taken (or planned).
	Time time.Time
}

// DigestRecorder records deletions and rewrites in the digest chain so that
// an object removed or changed by retention is accounted for rather than
// missing or modified. Hashes and sizes are over the bytes as stored in the
// bucket. *digest.Writer implements it.
type DigestRecorder interface {
	RecordDeleted(ctx context.Context, endpoint, key string, size int64, sha256 [32]byte, reason string) error
	RecordRewritten(ctx context.Context, endpoint, key string, oldSize int64, oldSHA [32]byte, newSize int64, newSHA [32]byte, reason string) error
}

// RetentionAudit writes what retention did into the audit log. cmd adapts
// the metadata store's audit append (audit.Store.AppendAudit) to it.
type RetentionAudit interface {
	AuditRetention(ctx context.Context, a RetentionAction) error
}

// SweeperOptions configures a Sweeper. Bucket and Rules are required.
type SweeperOptions struct {
	// Bucket reads capture objects as plaintext and writes rewritten ones:
	// with encryption at rest, the EncryptingBucket, so that a rewritten
	// object of an encrypted endpoint is encrypted again.
	Bucket objstore.Bucket
	// Raw, when Bucket decorates another bucket (encryption), is that
	// other bucket: the sweeper hashes the bytes as stored through it and
	// puts them back through it when a rewrite or deletion must be undone.
	// Nil means Bucket stores the bytes as they are.
	Raw objstore.Bucket
	// Rules lists the endpoints with retention. Endpoints without a rule
	// are never touched. Ignored when RulesFunc is set.
	Rules []RetentionRule
	// RulesFunc, when set, is asked for the rules at the start of every
	// sweep, so that the sweeper follows endpoint changes.
	RulesFunc func(ctx context.Context) ([]RetentionRule, error)
	// Digests, when set, receives every deletion and rewrite.
	Digests DigestRecorder
	// Audit, when set, receives every deletion and rewrite.
	Audit RetentionAudit
	// DryRun plans without deleting, rewriting or recording anything.
	DryRun bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives a summary of each sweep run by Run. Nil discards.
	Logger *slog.Logger
}

// SweepReport is what one sweep did.
type SweepReport struct {
	// Actions lists the deletions and rewrites done (planned in a dry
	// run), in key order per endpoint.
	Actions []RetentionAction
	// Scanned counts capture objects examined under the rules' endpoints.
	Scanned int
	// Stripped counts objects due for stripping that already were.
	Stripped int
	// Failed counts objects left for the next sweep after an error.
	Failed int
}

// Sweeper enforces capture retention: it deletes expired capture objects
// and strips the payloads of objects past the payload retention. Sweeps are
// idempotent; an interrupted sweep leaves every object either untouched or
// fully processed, and the next sweep finishes the job.
type Sweeper struct {
	o   SweeperOptions
	log *slog.Logger

	mu sync.Mutex // one sweep at a time; guards stripped
	// stripped remembers objects found already stripped, by key, with
	// their listed size, so that later sweeps skip them without a read.
	stripped map[string]int64
}

// ErrRecord wraps failures to record an action in the digest chain or the
// audit log. They stop a sweep: going on would leave more actions
// unrecorded.
var ErrRecord = errors.New("record retention action")

// NewSweeper returns a Sweeper for o.
func NewSweeper(o SweeperOptions) (*Sweeper, error) {
	if o.Bucket == nil {
		return nil, errors.New("new retention sweeper: no bucket")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{o: o, log: log, stripped: map[string]int64{}}, nil
}

// Run sweeps at once and then every interval until ctx ends, logging each
// sweep's outcome; it returns nil when ctx ends.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, err := s.Sweep(ctx)
		if ctx.Err() != nil {
			return nil
		}
		deleted, stripped := rep.count()
		if err != nil {
			s.log.Error("retention sweep", "deleted", deleted, "stripped", stripped, "failed", rep.Failed, "err", err)
		} else if deleted+stripped > 0 {
			s.log.Info("retention sweep", "deleted", deleted, "stripped", stripped, "scanned", rep.Scanned)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// count returns the number of deletions and rewrites in r.
func (r *SweepReport) count() (deleted, stripped int) {
	for _, a := range r.Actions {
		if a.Kind == RetentionDelete {
			deleted++
		} else {
			stripped++
		}
	}
	return deleted, stripped
}

// maxErrors bounds the per-object errors a sweep returns in detail.
const maxErrors = 10

// Sweep applies the rules once. Per-object failures (an object that cannot
// be read, decoded or written) leave that object for the next sweep and
// are returned joined after the sweep; a failure to record an action
// (ErrRecord) stops the sweep at once.
func (s *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rep SweepReport
	rules := s.o.Rules
	if s.o.RulesFunc != nil {
		var err error
		if rules, err = s.o.RulesFunc(ctx); err != nil {
			return rep, fmt.Errorf("retention rules: %w", err)
		}
	}
	now := s.o.Now()
	stripped := map[string]int64{} // replaces s.stripped: forgets deleted objects
	defer func() {
		if !s.o.DryRun {
			s.stripped = stripped
		}
	}()
	var errs []error
	for _, r := range rules {
		if r.Objects <= 0 && r.Payloads <= 0 {
			continue
		}
		due, err := s.due(ctx, r, now, &rep)
		if err != nil {
			return rep, err
		}
		for _, o := range due {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			a, err := s.apply(ctx, r, o, now, stripped)
			switch {
			case a != nil: // done, even if the audit log then failed
				rep.Actions = append(rep.Actions, *a)
			case err == nil && o.kind == RetentionStrip:
				rep.Stripped++
			}
			switch {
			case errors.Is(err, ErrRecord):
				return rep, err
			case err != nil:
				rep.Failed++
				if len(errs) < maxErrors {
					errs = append(errs, err)
				}
			}
		}
	}
	if rep.Failed > len(errs) {
		errs = append(errs, fmt.Errorf("and %d more objects failed", rep.Failed-len(errs)))
	}
	return rep, errors.Join(errs...)
}

// dueObject is a capture object with an action due.
type dueObject struct {
	objstore.ObjectInfo
	hour time.Time
	kind string
}

// due lists r's endpoint and returns its objects with an action due. The
// listing completes before anything changes, so no bucket is modified
// while it is being listed. Keys that are not capture object keys, or that
// name another endpoint, are left alone.
func (s *Sweeper) due(ctx context.Context, r RetentionRule, now time.Time, rep *SweepReport) ([]dueObject, error) {
	var due []dueObject
	err := s.o.Bucket.List(ctx, r.Endpoint+"/", func(o objstore.ObjectInfo) error {
		info, err := ParseObjectKey(o.Key)
		if err != nil || info.Endpoint != r.Endpoint {
			return nil
		}
		rep.Scanned++
		if kind := r.Decide(info.Hour, now); kind != "" {
			due = append(due, dueObject{ObjectInfo: o, hour: info.Hour, kind: kind})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s/: %w", r.Endpoint, err)
	}
	return due, nil
}

// apply deletes or strips one object. It returns nil, nil for an object
// that needs nothing (already stripped, or deleted by someone else).
func (s *Sweeper) apply(ctx context.Context, r RetentionRule, o dueObject, now time.Time, stripped map[string]int64) (*RetentionAction, error) {
	a := &RetentionAction{Kind: o.kind, Endpoint: r.Endpoint, Key: o.Key, Hour: o.hour, Reason: r.reason(o.kind), Size: o.Size, Time: now}
	if o.kind == RetentionDelete {
		return s.delete(ctx, a)
	}
	if size, ok := s.stripped[o.Key]; ok && size == o.Size {
		stripped[o.Key] = size
		return nil, nil
	}
	done, err := s.firstLineStripped(ctx, o.Key)
	if err != nil || done {
		if done {
			stripped[o.Key] = o.Size
		}
		return nil, err
	}
	a, err = s.strip(ctx, a)
	switch {
	case a == nil && err == nil:
		stripped[o.Key] = o.Size // nothing left to strip (strict mode)
	case a != nil && !s.o.DryRun:
		stripped[o.Key] = a.NewSize // what the next listing reports
	}
	return a, err
}

// raw is the bucket holding the stored bytes.
func (s *Sweeper) raw() objstore.Bucket {
	if s.o.Raw != nil {
		return s.o.Raw
	}
	return s.o.Bucket
}

// delete deletes a.Key: read the stored bytes (for the hash), record the
// deletion in the digest chain, delete, then write the audit log. The
// digest record comes first (the digest writer journals it durably), so
// the chain never lacks a deletion that happened; if the delete then
// fails, the object stays with its deletion recorded, and the next sweep
// deletes it and records the deletion again (the same key, size and hash).
func (s *Sweeper) delete(ctx context.Context, a *RetentionAction) (*RetentionAction, error) {
	if s.o.DryRun {
		return a, nil
	}
	stored, err := readAll(ctx, s.raw(), a.Key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil // deleted meanwhile, by whoever recorded it
	}
	if err != nil {
		return nil, fmt.Errorf("retention: read %s: %w", a.Key, err)
	}
	a.Size, a.SHA256 = int64(len(stored)), sha256.Sum256(stored)
	if s.o.Digests != nil {
		if err := s.o.Digests.RecordDeleted(ctx, a.Endpoint, a.Key, a.Size, a.SHA256, a.Reason); err != nil {
			return nil, fmt.Errorf("%w: digest: deletion of %s: %w", ErrRecord, a.Key, err)
		}
	}
	if err := s.o.Bucket.Delete(ctx, a.Key); err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("retention: delete %s (its deletion is recorded; the next sweep retries): %w", a.Key, err)
	}
	return a, s.audit(ctx, a)
}

// strip rewrites a.Key with its payloads' data emptied. It returns nil,
// nil when no payload had data left. The rewrite is recorded in the
// digest chain after the new object is in place (with encryption its
// stored bytes are known only then); if the chain refuses it, the old
// stored bytes are put back.
func (s *Sweeper) strip(ctx context.Context, a *RetentionAction) (*RetentionAction, error) {
	stored, err := readAll(ctx, s.raw(), a.Key)
	if err != nil {
		return nil, fmt.Errorf("retention: read %s: %w", a.Key, err)
	}
	plain := stored
	if s.o.Raw != nil {
		if plain, err = readAll(ctx, s.o.Bucket, a.Key); err != nil {
			return nil, fmt.Errorf("retention: read %s: %w", a.Key, err)
		}
	}
	out, changed, err := StripPayloads(plain)
	if err != nil {
		return nil, fmt.Errorf("retention: strip %s: %w", a.Key, err)
	}
	if !changed {
		return nil, nil
	}
	a.Size, a.SHA256 = int64(len(stored)), sha256.Sum256(stored)
	if s.o.DryRun {
		if s.o.Raw == nil {
			a.NewSize, a.NewSHA256 = int64(len(out)), sha256.Sum256(out)
		}
		return a, nil
	}
	if err := s.o.Bucket.Put(ctx, a.Key, bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("retention: put %s: %w", a.Key, err)
	}
	newStored := out
	if s.o.Raw != nil {
		if newStored, err = readAll(ctx, s.o.Raw, a.Key); err != nil {
			return nil, s.undo(ctx, a.Key, stored, fmt.Errorf("retention: read %s after rewriting it: %w", a.Key, err))
		}
	}
	a.NewSize, a.NewSHA256 = int64(len(newStored)), sha256.Sum256(newStored)
	if s.o.Digests != nil {
		if err := s.o.Digests.RecordRewritten(ctx, a.Endpoint, a.Key, a.Size, a.SHA256, a.NewSize, a.NewSHA256, a.Reason); err != nil {
			return nil, s.undo(ctx, a.Key, stored, fmt.Errorf("%w: digest: rewrite of %s: %w", ErrRecord, a.Key, err))
		}
	}
	return a, s.audit(ctx, a)
}

// undo puts the stored bytes of key back after an action could not be
// recorded, and returns cause (joined with the failure to undo, if any).
func (s *Sweeper) undo(ctx context.Context, key string, stored []byte, cause error) error {
	if err := s.raw().Put(context.WithoutCancel(ctx), key, bytes.NewReader(stored)); err != nil {
		return errors.Join(cause, fmt.Errorf("retention: restore %s: %w", key, err))
	}
	return cause
}

// audit writes a to the audit log. The action stands if this fails (it is
// in the digest chain); the sweep stops so that at most one event is lost.
func (s *Sweeper) audit(ctx context.Context, a *RetentionAction) error {
	if s.o.Audit == nil {
		return nil
	}
	if err := s.o.Audit.AuditRetention(ctx, *a); err != nil {
		return fmt.Errorf("%w: audit: %s of %s: %w", ErrRecord, a.Kind, a.Key, err)
	}
	return nil
}

// firstLineStripped reports whether the object's first line carries the
// glassbox.payload_stripped marker: the sweeper writes it on every line it
// strips, so a marked first line means the object was stripped. Only the
// first line is read (and, when encrypted, decrypted).
func (s *Sweeper) firstLineStripped(ctx context.Context, key string) (bool, error) {
	rc, err := s.o.Bucket.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("retention: read %s: %w", key, err)
	}
	defer rc.Close()
	line, err := bufio.NewReader(rc).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("retention: read %s: %w", key, err)
	}
	var r Record
	if err := DecodeRecordInto(line, &r); err != nil {
		return false, nil // strip reports the bad line, with its number
	}
	return r.Glassbox != nil && r.Glassbox.PayloadStripped, nil
}

// readAll reads the whole object under key.
func readAll(ctx context.Context, b objstore.Bucket, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// StripPayloads returns the capture object obj (JSON lines) with the data
// of every payload emptied: "data" becomes "", while observedContentType,
// mode and encoding stay, so every line still decodes with DecodeRecord
// and SageMaker's readers. Lines with a "glassbox" object get
// "payload_stripped": true there; strict-mode lines (SageMaker's keys
// only) get no marker. Lines are re-encoded with AppendRecord, one output
// line per input line, blank lines kept, so line numbers (which the
// capture index keeps) do not change.
//
// changed is false when there was nothing to do: no payload had data and
// every glassbox object was already marked. A line that does not decode
// is an error: the object is left as it is.
func StripPayloads(obj []byte) (out []byte, changed bool, err error) {
	var buf bytes.Buffer
	buf.Grow(len(obj) / 2)
	var r Record
	for n := 1; len(obj) > 0; n++ {
		line, rest, _ := bytes.Cut(obj, []byte("\n"))
		obj = rest
		if len(bytes.TrimSpace(line)) == 0 {
			buf.WriteByte('\n')
			continue
		}
		if err := DecodeRecordInto(line, &r); err != nil {
			return nil, false, fmt.Errorf("line %d: %w", n, err)
		}
		for _, p := range []*Payload{r.CaptureData.EndpointInput, r.CaptureData.EndpointOutput} {
			if p != nil && p.Data != "" {
				p.Data = ""
				changed = true
			}
		}
		if r.Glassbox != nil && !r.Glassbox.PayloadStripped {
			r.Glassbox.PayloadStripped = true
			changed = true
		}
		if err := AppendRecord(&buf, &r); err != nil {
			return nil, false, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return buf.Bytes(), changed, nil
}
