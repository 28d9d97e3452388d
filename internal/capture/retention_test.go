package capture_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

const day = 24 * time.Hour

// sweepNow is the fake clock of the retention tests: on the hour, so that
// objects sit exactly on expiry boundaries.
var sweepNow = time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)

// captureObject returns a capture object of n records for endpoint at
// hour, with payloads; strict leaves out the glassbox object.
func captureObject(tb testing.TB, endpoint string, hour time.Time, n int, strict bool) []byte {
	tb.Helper()
	var buf bytes.Buffer
	for i := range n {
		t := hour.Add(time.Duration(i) * time.Minute)
		r := &capture.Record{
			CaptureData: capture.CaptureData{
				EndpointInput:  &capture.Payload{ObservedContentType: "application/json", Mode: capture.ModeInput, Data: fmt.Sprintf(`{"email":"a%d@example.com"}`, i), Encoding: capture.EncodingJSON},
				EndpointOutput: &capture.Payload{ObservedContentType: "text/csv; charset=utf-8", Mode: capture.ModeOutput, Data: "0.5", Encoding: capture.EncodingCSV},
			},
			EventMetadata: capture.EventMetadata{EventID: fmt.Sprintf("%s-%s-%d", endpoint, hour.Format("2006010215"), i), InferenceID: "inf", InferenceTime: t.Format(capture.InferenceTimeLayout)},
			EventVersion:  capture.EventVersion,
		}
		if !strict {
			r.Glassbox = &capture.Extra{Endpoint: endpoint, Variant: "AllTraffic", Time: t.Format(time.RFC3339Nano), Status: 200, InputBytes: 27, OutputBytes: 3}
		}
		if err := capture.AppendRecord(&buf, r); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// keyAt is the key of an object of endpoint for hour.
func keyAt(endpoint string, hour time.Time) string {
	return capture.ObjectKey(endpoint, "AllTraffic", hour.Add(90*time.Second), "x")
}

// fakeDigests records the calls of a DigestRecorder; fail, if set, is
// asked before each call and may refuse it.
type fakeDigests struct {
	mu    sync.Mutex // for n, while Run sweeps
	calls []string
	fail  func(key string) error
}

func (f *fakeDigests) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeDigests) RecordDeleted(_ context.Context, endpoint, key string, size int64, sum [32]byte, reason string) error {
	if f.fail != nil {
		if err := f.fail(key); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("deleted %s %s %d %x %s", endpoint, key, size, sum[:4], reason))
	return nil
}

func (f *fakeDigests) RecordRewritten(_ context.Context, endpoint, key string, oldSize int64, oldSHA [32]byte, newSize int64, newSHA [32]byte, reason string) error {
	if f.fail != nil {
		if err := f.fail(key); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("rewritten %s %s %d %x %d %x %s", endpoint, key, oldSize, oldSHA[:4], newSize, newSHA[:4], reason))
	return nil
}

// fakeAudit records the actions it is given.
type fakeAudit struct {
	events []capture.RetentionAction
	fail   error
}

func (f *fakeAudit) AuditRetention(_ context.Context, a capture.RetentionAction) error {
	if f.fail != nil {
		return f.fail
	}
	f.events = append(f.events, a)
	return nil
}

// snapshot returns every object of b by key.
func snapshot(tb testing.TB, b objstore.Bucket) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	for _, o := range listKeys(tb, b) {
		rc, err := b.Get(context.Background(), o.Key)
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		out[o.Key] = data
	}
	return out
}

func mustSweeper(tb testing.TB, o capture.SweeperOptions) *capture.Sweeper {
	tb.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return sweepNow }
	}
	s, err := capture.NewSweeper(o)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestRetentionRule_Decide(t *testing.T) {
	r := capture.RetentionRule{Endpoint: "churn", Objects: 2 * day, Payloads: day}
	// An object of hour H expires when H+1h <= now - retention.
	lastDeleted := sweepNow.Add(-2*day - time.Hour) // H+1h == now-2d exactly
	lastStripped := sweepNow.Add(-day - time.Hour)  // H+1h == now-1d exactly
	for _, tc := range []struct {
		name string
		hour time.Time
		now  time.Time
		want string
	}{
		{"ends exactly retention ago", lastDeleted, sweepNow, capture.RetentionDelete},
		{"one nanosecond before the boundary", lastDeleted, sweepNow.Add(-time.Nanosecond), capture.RetentionStrip},
		{"the next hour", lastDeleted.Add(time.Hour), sweepNow, capture.RetentionStrip},
		{"the next hour one hour later", lastDeleted.Add(time.Hour), sweepNow.Add(time.Hour), capture.RetentionDelete},
		{"much older", lastDeleted.Add(-400 * day), sweepNow, capture.RetentionDelete},
		{"payload boundary", lastStripped, sweepNow, capture.RetentionStrip},
		{"one nanosecond before the payload boundary", lastStripped, sweepNow.Add(-time.Nanosecond), ""},
		{"hour after the payload boundary", lastStripped.Add(time.Hour), sweepNow, ""},
		{"current hour", sweepNow, sweepNow, ""},
		{"future hour", sweepNow.Add(5 * time.Hour), sweepNow, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Decide(tc.hour, tc.now); got != tc.want {
				t.Errorf("Decide(%s, %s) = %q, want %q", tc.hour, tc.now, got, tc.want)
			}
		})
	}
	t.Run("zero keeps forever", func(t *testing.T) {
		if got := (capture.RetentionRule{}).Decide(sweepNow.Add(-1000*day), sweepNow); got != "" {
			t.Errorf("Decide = %q, want nothing", got)
		}
		if got := (capture.RetentionRule{Payloads: day}).Decide(sweepNow.Add(-1000*day), sweepNow); got != capture.RetentionStrip {
			t.Errorf("payloads only: Decide = %q, want strip", got)
		}
	})
}

// sweepFixture is a bucket with objects of several endpoints on both sides
// of their expiry boundaries.
type sweepFixture struct {
	b        objstore.Bucket
	before   map[string][]byte
	deleted  []string // keys the first sweep must delete
	stripped []string // keys it must strip
}

func newSweepFixture(t *testing.T) (*sweepFixture, []capture.RetentionRule) {
	t.Helper()
	f := &sweepFixture{b: newBucket(t)}
	add := func(endpoint string, hour time.Time, strict bool) string {
		k := keyAt(endpoint, hour)
		put(t, f.b, k, string(captureObject(t, endpoint, hour, 3, strict)))
		return k
	}
	boundary := func(d time.Duration) time.Time { return sweepNow.Add(-d - time.Hour) } // H+1h == now-d
	// churn: retention 2 days, payloads 1 day.
	f.deleted = append(f.deleted,
		add("churn", boundary(2*day).Add(-30*day), false),
		add("churn", boundary(2*day), false))
	f.stripped = append(f.stripped,
		add("churn", boundary(2*day).Add(time.Hour), false), // one hour too young to delete
		add("churn", boundary(day), false))
	add("churn", boundary(day).Add(time.Hour), false) // one hour too young to strip
	add("churn", sweepNow, false)
	put(t, f.b, "churn/notes.txt", "not a capture object")
	// fraud: strict records, payloads 1 day, objects forever.
	f.stripped = append(f.stripped, add("fraud", boundary(400*day), true), add("fraud", boundary(day), true))
	add("fraud", boundary(day).Add(time.Hour), true)
	// audit: deletion only, at 7 days.
	f.deleted = append(f.deleted, add("audit", boundary(7*day), false))
	add("audit", boundary(7*day).Add(time.Hour), false)
	// Endpoints without a rule, one named like a rule's prefix: untouched.
	add("legacy", boundary(1000*day), false)
	add("churn-v2", boundary(1000*day), false)
	f.before = snapshot(t, f.b)
	slices.Sort(f.deleted)
	slices.Sort(f.stripped)
	return f, []capture.RetentionRule{
		{Endpoint: "churn", Objects: 2 * day, Payloads: day, ObjectDays: 2, PayloadDays: 1},
		{Endpoint: "fraud", Payloads: day},
		{Endpoint: "audit", Objects: 7 * day},
	}
}

// actionKeys returns the keys of rep's actions of kind, sorted.
func actionKeys(rep capture.SweepReport, kind string) []string {
	var out []string
	for _, a := range rep.Actions {
		if a.Kind == kind {
			out = append(out, a.Key)
		}
	}
	slices.Sort(out)
	return out
}

func TestSweeper_Sweep(t *testing.T) {
	f, rules := newSweepFixture(t)
	digests, audit := &fakeDigests{}, &fakeAudit{}
	s := mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests, Audit: audit})
	rep, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := actionKeys(rep, capture.RetentionDelete); !slices.Equal(got, f.deleted) {
		t.Errorf("deleted %q, want %q", got, f.deleted)
	}
	if got := actionKeys(rep, capture.RetentionStrip); !slices.Equal(got, f.stripped) {
		t.Errorf("stripped %q, want %q", got, f.stripped)
	}
	after := snapshot(t, f.b)
	for k, old := range f.before {
		now, ok := after[k]
		switch {
		case slices.Contains(f.deleted, k):
			if ok {
				t.Errorf("%s was not deleted", k)
			}
		case slices.Contains(f.stripped, k):
			checkStripped(t, k, old, now)
		case !bytes.Equal(old, now):
			t.Errorf("%s changed, want it untouched", k)
		}
	}

	// Digest chain and audit log: once per action, with the stored bytes'
	// hashes and the rule applied.
	if len(digests.calls) != len(rep.Actions) || len(audit.events) != len(rep.Actions) {
		t.Fatalf("%d actions, %d digest records, %d audit events; want one each per action",
			len(rep.Actions), len(digests.calls), len(audit.events))
	}
	for i, a := range rep.Actions {
		old := f.before[a.Key]
		if a.Size != int64(len(old)) || a.SHA256 != sha256.Sum256(old) {
			t.Errorf("%s: size, sha256 = %d, %x; want the stored object's", a.Key, a.Size, a.SHA256[:4])
		}
		var want string
		switch a.Kind {
		case capture.RetentionDelete:
			want = fmt.Sprintf("deleted %s %s %d %x %s", a.Endpoint, a.Key, len(old), a.SHA256[:4], a.Reason)
		case capture.RetentionStrip:
			now := after[a.Key]
			if a.NewSize != int64(len(now)) || a.NewSHA256 != sha256.Sum256(now) {
				t.Errorf("%s: new size, sha256 = %d, %x; want the rewritten object's", a.Key, a.NewSize, a.NewSHA256[:4])
			}
			want = fmt.Sprintf("rewritten %s %s %d %x %d %x %s", a.Endpoint, a.Key, len(old), a.SHA256[:4], len(now), a.NewSHA256[:4], a.Reason)
		}
		if digests.calls[i] != want {
			t.Errorf("digest record %d = %q, want %q", i, digests.calls[i], want)
		}
		if audit.events[i] != a {
			t.Errorf("audit event %d = %+v, want %+v", i, audit.events[i], a)
		}
	}
	reasons := map[string]string{}
	for _, a := range rep.Actions {
		reasons[a.Endpoint+" "+a.Kind] = a.Reason
	}
	for k, want := range map[string]string{
		"churn delete": "retention_days=2", "churn strip": "payload_retention_days=1",
		"fraud strip": "payload_retention_days=1", "audit delete": "retention_days=7",
	} {
		if reasons[k] != want {
			t.Errorf("%s reason = %q, want %q", k, reasons[k], want)
		}
	}

	// The next sweeps, by this sweeper (which remembers what it stripped)
	// and by a fresh one (which reads first lines), find nothing to do.
	for _, s := range []*capture.Sweeper{s, mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests, Audit: audit})} {
		rep, err := s.Sweep(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Actions) != 0 || rep.Stripped != len(f.stripped) {
			t.Errorf("second sweep: %d actions, %d already stripped; want 0, %d", len(rep.Actions), rep.Stripped, len(f.stripped))
		}
		if again := snapshot(t, f.b); len(again) != len(after) {
			t.Errorf("second sweep changed the bucket")
		}
	}
	if len(digests.calls) != len(f.deleted)+len(f.stripped) || len(audit.events) != len(digests.calls) {
		t.Errorf("after three sweeps: %d digest records, %d audit events; want %d each",
			len(digests.calls), len(audit.events), len(f.deleted)+len(f.stripped))
	}
}

// checkStripped checks that now is old with payload data emptied and
// metadata kept, one line for one line.
func checkStripped(t *testing.T, key string, old, now []byte) {
	t.Helper()
	oldLines, newLines := bytes.Split(old, []byte("\n")), bytes.Split(now, []byte("\n"))
	if len(oldLines) != len(newLines) {
		t.Fatalf("%s: %d lines after stripping, want %d", key, len(newLines), len(oldLines))
	}
	for i := range oldLines {
		if len(oldLines[i]) == 0 {
			continue
		}
		was, err := capture.DecodeRecord(oldLines[i])
		if err != nil {
			t.Fatal(err)
		}
		is, err := capture.DecodeRecord(newLines[i])
		if err != nil {
			t.Fatalf("%s line %d does not decode after stripping: %v", key, i+1, err)
		}
		for _, p := range []struct{ was, is *capture.Payload }{
			{was.CaptureData.EndpointInput, is.CaptureData.EndpointInput},
			{was.CaptureData.EndpointOutput, is.CaptureData.EndpointOutput},
		} {
			want := *p.was
			want.Data = ""
			if *p.is != want {
				t.Errorf("%s line %d: payload %+v, want %+v", key, i+1, *p.is, want)
			}
		}
		if is.EventMetadata != was.EventMetadata || is.EventVersion != was.EventVersion {
			t.Errorf("%s line %d: metadata changed", key, i+1)
		}
		switch {
		case was.Glassbox == nil && is.Glassbox != nil:
			t.Errorf("%s line %d: a strict record got a glassbox object", key, i+1)
		case was.Glassbox != nil:
			want := *was.Glassbox
			want.PayloadStripped = true
			if is.Glassbox == nil || !is.Glassbox.PayloadStripped || is.Glassbox.Status != want.Status || is.Glassbox.Time != want.Time ||
				is.Glassbox.InputBytes != want.InputBytes {
				t.Errorf("%s line %d: glassbox %+v, want %+v", key, i+1, is.Glassbox, want)
			}
		}
		if bytes.Contains(newLines[i], []byte("example.com")) {
			t.Errorf("%s line %d still holds payload data: %s", key, i+1, newLines[i])
		}
	}
}

func TestSweeper_dryRun(t *testing.T) {
	f, rules := newSweepFixture(t)
	digests, audit := &fakeDigests{}, &fakeAudit{}
	s := mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests, Audit: audit, DryRun: true})
	for range 2 {
		rep, err := s.Sweep(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := actionKeys(rep, capture.RetentionDelete); !slices.Equal(got, f.deleted) {
			t.Errorf("would delete %q, want %q", got, f.deleted)
		}
		if got := actionKeys(rep, capture.RetentionStrip); !slices.Equal(got, f.stripped) {
			t.Errorf("would strip %q, want %q", got, f.stripped)
		}
	}
	after := snapshot(t, f.b)
	if len(after) != len(f.before) {
		t.Errorf("dry run: %d objects, want %d", len(after), len(f.before))
	}
	for k, old := range f.before {
		if !bytes.Equal(after[k], old) {
			t.Errorf("dry run changed %s", k)
		}
	}
	if len(digests.calls)+len(audit.events) != 0 {
		t.Errorf("dry run recorded %d digest records and %d audit events", len(digests.calls), len(audit.events))
	}
}

// failingPutBucket refuses Put for one key.
type failingPutBucket struct {
	objstore.Bucket
	key string
}

func (b failingPutBucket) Put(ctx context.Context, key string, r io.Reader) error {
	if key == b.key {
		return errors.New("disk on fire")
	}
	return b.Bucket.Put(ctx, key, r)
}

// failingDeleteBucket refuses Delete for one key.
type failingDeleteBucket struct {
	objstore.Bucket
	key string
}

func (b failingDeleteBucket) Delete(ctx context.Context, key string) error {
	if key == b.key {
		return errors.New("disk on fire")
	}
	return b.Bucket.Delete(ctx, key)
}

func TestSweeper_failureIsResumed(t *testing.T) {
	t.Run("digest refuses a record", func(t *testing.T) {
		f, _ := newSweepFixture(t) // the keys are the same in every fixture
		all := append(slices.Clone(f.deleted), f.stripped...)
		for _, victim := range []string{f.deleted[1], f.stripped[1]} { // one of each kind
			t.Run(victim, func(t *testing.T) {
				f, rules := newSweepFixture(t)
				calls := 0
				digests := &fakeDigests{fail: func(key string) error {
					calls++
					if key == victim {
						return errors.New("digest store down")
					}
					return nil
				}}
				audit := &fakeAudit{}
				s := mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests, Audit: audit})
				rep, err := s.Sweep(t.Context())
				if !errors.Is(err, capture.ErrRecord) {
					t.Fatalf("Sweep error = %v, want ErrRecord", err)
				}
				if calls >= len(all) || len(rep.Actions) != calls-1 || len(audit.events) != calls-1 {
					t.Fatalf("stopped after %d digest calls with %d actions and %d audit events", calls, len(rep.Actions), len(audit.events))
				}
				// Consistent: the refused object is as it was; every action
				// taken is in the digest chain and the audit log.
				if got := snapshot(t, f.b)[victim]; !bytes.Equal(got, f.before[victim]) {
					t.Errorf("%s not restored after the digest refused it", victim)
				}
				digests.fail = nil
				rep2, err := s.Sweep(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				done := append(actionKeys(rep, capture.RetentionDelete), actionKeys(rep, capture.RetentionStrip)...)
				done = append(done, actionKeys(rep2, capture.RetentionDelete)...)
				done = append(done, actionKeys(rep2, capture.RetentionStrip)...)
				slices.Sort(done)
				want := slices.Sorted(slices.Values(all))
				if !slices.Equal(done, want) {
					t.Errorf("two sweeps acted on %q, want each of %q once", done, want)
				}
				if len(digests.calls) != len(all) || len(audit.events) != len(all) {
					t.Errorf("%d digest records, %d audit events; want %d each", len(digests.calls), len(audit.events), len(all))
				}
			})
		}
	})

	t.Run("object cannot be rewritten", func(t *testing.T) {
		f, rules := newSweepFixture(t)
		victim := f.stripped[0]
		digests := &fakeDigests{}
		s := mustSweeper(t, capture.SweeperOptions{Bucket: failingPutBucket{f.b, victim}, Rules: rules, Digests: digests})
		rep, err := s.Sweep(t.Context())
		if err == nil || !strings.Contains(err.Error(), "disk on fire") || rep.Failed != 1 {
			t.Fatalf("Sweep = %d failed, %v; want 1 failed with the put error", rep.Failed, err)
		}
		if n := len(f.deleted) + len(f.stripped) - 1; len(rep.Actions) != n || len(digests.calls) != n {
			t.Errorf("%d actions, %d digest records; want the other %d objects done", len(rep.Actions), len(digests.calls), n)
		}
		if !bytes.Equal(snapshot(t, f.b)[victim], f.before[victim]) {
			t.Errorf("%s changed although its rewrite failed", victim)
		}
		s = mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests})
		rep, err = s.Sweep(t.Context())
		if err != nil || len(rep.Actions) != 1 || rep.Actions[0].Key != victim {
			t.Errorf("next sweep = %+v, %v; want only %s stripped", rep.Actions, err, victim)
		}
	})

	t.Run("object cannot be deleted", func(t *testing.T) {
		f, rules := newSweepFixture(t)
		victim := f.deleted[0]
		digests := &fakeDigests{}
		s := mustSweeper(t, capture.SweeperOptions{Bucket: failingDeleteBucket{f.b, victim}, Rules: rules, Digests: digests})
		rep, err := s.Sweep(t.Context())
		if err == nil || !strings.Contains(err.Error(), "disk on fire") || rep.Failed != 1 {
			t.Fatalf("Sweep = %d failed, %v; want 1 failed with the delete error", rep.Failed, err)
		}
		// The deletion was recorded first; the object is still there, whole.
		first := slices.IndexFunc(digests.calls, func(c string) bool { return strings.Contains(c, " "+victim+" ") })
		if !bytes.Equal(snapshot(t, f.b)[victim], f.before[victim]) || first < 0 {
			t.Fatalf("after a failed delete: object changed or deletion not recorded (%q)", digests.calls)
		}
		n := len(digests.calls)
		rep, err = mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests}).Sweep(t.Context())
		if err != nil || len(rep.Actions) != 1 || rep.Actions[0].Key != victim {
			t.Fatalf("next sweep = %+v, %v; want only %s deleted", rep.Actions, err, victim)
		}
		if _, ok := snapshot(t, f.b)[victim]; ok {
			t.Errorf("%s still there", victim)
		}
		// The deletion is recorded again, identically.
		if len(digests.calls) != n+1 || digests.calls[n] != digests.calls[first] {
			t.Errorf("digest records %q, want the deletion of %s repeated", digests.calls, victim)
		}
	})

	t.Run("audit log refuses an event", func(t *testing.T) {
		f, rules := newSweepFixture(t)
		digests, audit := &fakeDigests{}, &fakeAudit{fail: errors.New("database locked")}
		s := mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests, Audit: audit})
		rep, err := s.Sweep(t.Context())
		if !errors.Is(err, capture.ErrRecord) {
			t.Fatalf("Sweep error = %v, want ErrRecord", err)
		}
		// The action stands and is in the digest chain; the sweep stopped.
		if len(rep.Actions) != 1 || len(digests.calls) != 1 {
			t.Errorf("%d actions, %d digest records; want 1 each", len(rep.Actions), len(digests.calls))
		}
	})
}

func TestSweeper_encrypted(t *testing.T) {
	raw, _, enc := encryptedFileBucket(t, mustKeyring(t), "churn")
	boundary := func(d time.Duration) time.Time { return sweepNow.Add(-d - time.Hour) }
	del, strip := keyAt("churn", boundary(2*day)), keyAt("churn", boundary(day))
	for _, k := range []string{del, strip} {
		info, _ := capture.ParseObjectKey(k)
		put(t, enc, k, string(captureObject(t, "churn", info.Hour, 2, false)))
	}
	before := snapshot(t, raw)
	digests := &fakeDigests{}
	s := mustSweeper(t, capture.SweeperOptions{Bucket: enc, Raw: raw, Digests: digests,
		Rules: []capture.RetentionRule{{Endpoint: "churn", Objects: 2 * day, Payloads: day}}})
	rep, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Actions) != 2 || len(digests.calls) != 2 {
		t.Fatalf("%d actions, %d digest records; want 2 each", len(rep.Actions), len(digests.calls))
	}
	after := snapshot(t, raw)
	for _, a := range rep.Actions {
		// Hashes are over the bytes as stored: ciphertext.
		if a.SHA256 != sha256.Sum256(before[a.Key]) || a.Size != int64(len(before[a.Key])) {
			t.Errorf("%s %s: old hash is not the stored object's", a.Kind, a.Key)
		}
		if a.Kind == capture.RetentionStrip {
			stored := after[a.Key]
			if !keys.IsEncrypted(stored) {
				t.Errorf("%s was rewritten in clear", a.Key)
			}
			if a.NewSHA256 != sha256.Sum256(stored) || a.NewSize != int64(len(stored)) {
				t.Errorf("%s: new hash is not the stored object's", a.Key)
			}
		}
	}
	plain := snapshot(t, enc)
	if _, ok := plain[del]; ok {
		t.Errorf("%s not deleted", del)
	}
	info, _ := capture.ParseObjectKey(strip)
	checkStripped(t, strip, captureObject(t, "churn", info.Hour, 2, false), plain[strip])
	rep, err = mustSweeper(t, capture.SweeperOptions{Bucket: enc, Raw: raw, Rules: []capture.RetentionRule{{Endpoint: "churn", Objects: 2 * day, Payloads: day}}}).Sweep(t.Context())
	if err != nil || len(rep.Actions) != 0 || rep.Stripped != 1 {
		t.Errorf("second sweep = %d actions, %d stripped, %v; want 0, 1, nil", len(rep.Actions), rep.Stripped, err)
	}
}

func TestSweeper_rulesFunc(t *testing.T) {
	f, rules := newSweepFixture(t)
	asked := 0
	s := mustSweeper(t, capture.SweeperOptions{Bucket: f.b, RulesFunc: func(context.Context) ([]capture.RetentionRule, error) {
		asked++
		return rules[2:], nil // audit only
	}})
	rep, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 || len(rep.Actions) != 1 || rep.Actions[0].Endpoint != "audit" {
		t.Errorf("asked %d times, actions %+v; want one deletion in audit", asked, rep.Actions)
	}
}

func TestSweeper_Run(t *testing.T) {
	f, rules := newSweepFixture(t)
	digests := &fakeDigests{}
	s := mustSweeper(t, capture.SweeperOptions{Bucket: f.b, Rules: rules, Digests: digests})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, time.Hour) }()
	// Run sweeps at once: wait for every action of the first sweep.
	want := len(f.deleted) + len(f.stripped)
	deadline := time.Now().Add(10 * time.Second)
	for digests.n() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if got, want := len(snapshot(t, f.b)), len(f.before)-len(f.deleted); got != want {
		t.Errorf("after Run's first sweep: %d objects, want %d", got, want)
	}
}

func TestStripPayloads(t *testing.T) {
	lines := sagemakerLines(t)
	obj := bytes.Join(lines, nil)
	out, changed, err := capture.StripPayloads(obj)
	if err != nil || !changed {
		t.Fatalf("StripPayloads = %v, %v; want a change", changed, err)
	}
	checkStripped(t, sagemakerKey, obj, out)
	again, changed, err := capture.StripPayloads(out)
	if err != nil || changed || !bytes.Equal(again, out) {
		t.Errorf("stripping twice: changed %v, err %v, same bytes %v; want idempotent", changed, err, bytes.Equal(again, out))
	}
	t.Run("bad line", func(t *testing.T) {
		_, _, err := capture.StripPayloads(append(slices.Clone(obj), "not json\n"...))
		if !errors.Is(err, capture.ErrInvalidRecord) || !strings.Contains(err.Error(), "line 4") {
			t.Errorf("err = %v, want ErrInvalidRecord naming line 4", err)
		}
	})
	t.Run("blank lines keep their place", func(t *testing.T) {
		in := append(append(slices.Clone(lines[0]), '\n'), lines[1]...)
		out, _, err := capture.StripPayloads(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Split(out, []byte("\n")); len(got) != 4 || len(got[1]) != 0 {
			t.Errorf("lines %q, want the blank second line kept", got)
		}
	})
}
