// Package storetest is the contract suite of the metadata store: one set of
// behaviour checks that every dialect of store.DB must pass (SQLite in every
// plain go test, PostgreSQL through testenv). It covers every method of
// audit.Store, auth.TokenStore, endpoints.Store, capture.Index and
// monitor.ExecutionStore (monitor.go).
//
// It is a test helper: only test code may import it.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
	"github.com/glassbox-dev/glassbox/internal/store"
)

// RunStoreTests runs the contract suite. open must return a DB on a fresh,
// empty database each time it is called, and close it when t ends. The
// subtests run in parallel.
func RunStoreTests(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"Open/Reopen", testReopen},
		{"Token/RoundTrip", testTokenRoundTrip},
		{"Token/Conflict", testTokenConflict},
		{"Token/RejectsPlaintext", testTokenRejectsPlaintext},
		{"Token/NotFound", testTokenNotFound},
		{"Token/Revoke", testTokenRevoke},
		{"Token/Expiry", testTokenExpiry},
		{"Token/Touch", testTokenTouch},
		{"Token/List", testTokenList},
		{"Endpoint/RoundTrip", testEndpointRoundTrip},
		{"Endpoint/VersionConflict", testEndpointVersionConflict},
		{"Endpoint/ConcurrentPuts", testEndpointConcurrentPuts},
		{"Endpoint/Delete", testEndpointDelete},
		{"Endpoint/List", testEndpointList},
		{"Endpoint/Invalid", testEndpointInvalid},
		{"Audit/Append", testAuditAppend},
		{"Audit/List", testAuditList},
		{"Audit/Each", testAuditEach},
		{"Audit/ConcurrentChain", testAuditConcurrentChain},
		{"Capture/RoundTrip", testCaptureRoundTrip},
		{"Capture/Upsert", testCaptureUpsert},
		{"Capture/Invalid", testCaptureInvalid},
		{"Capture/ByInferenceID", testCaptureByInferenceID},
		{"Capture/KeysetPaging", testCaptureKeysetPaging},
		{"Capture/TimeWindow", testCaptureTimeWindow},
	}
	tests = append(tests, monitorTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// base returns a fixed instant with nanoseconds, in a non-UTC zone, so that
// round trips also check UTC conversion and microsecond truncation.
func base() time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
}

// stored is what the store keeps of t.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// storedPtr is stored for an optional time.
func storedPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := stored(*t)
	return &s
}

// wantCode fails t unless err carries the glassbox error code.
func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := glassbox.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (err = %v), want %q", what, got, err, code)
	}
}

// must fails t on err.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// reopen returns a second handle on db's database, closed when t ends.
func reopen(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	db2, err := db.Reopen(t.Context())
	must(t, err, "reopen")
	t.Cleanup(func() {
		if err := db2.Close(); err != nil {
			t.Errorf("close second handle: %v", err)
		}
	})
	return db2
}

func testReopen(t *testing.T, db *store.DB) {
	if d := db.Dialect(); d != store.DialectSQLite && d != store.DialectPostgres {
		t.Fatalf("Dialect() = %q", d)
	}
	ctx := t.Context()
	_, err := db.PutEndpoint(ctx, endpoints.Record{Name: "kept", Source: "api"}, 0)
	must(t, err, "put endpoint")
	// Opening again applies no migration twice and sees the same data.
	db2 := reopen(t, db)
	if db2.Dialect() != db.Dialect() {
		t.Errorf("reopened dialect %q, want %q", db2.Dialect(), db.Dialect())
	}
	if _, err := db2.Endpoint(ctx, "kept"); err != nil {
		t.Fatalf("second handle does not see the endpoint: %v", err)
	}
}

// ---- tokens ----

// newToken returns a token with a secret and its stored form.
func newToken(name string, created time.Time, ttl time.Duration) (string, auth.Token) {
	return auth.NewToken(name, []string{"viewer", "auditor"}, "user:alice", created, ttl)
}

// wantUnknownToken checks the token store's not-found error.
func wantUnknownToken(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("%s: err = %v, want one wrapping auth.ErrUnknownToken", what, err)
	}
	wantCode(t, err, glassbox.ENotFound, what)
}

func testTokenRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	plain, tok := newToken("ci", base(), 24*time.Hour)
	must(t, db.CreateToken(ctx, tok), "create token")
	got, err := db.Token(ctx, tok.ID)
	must(t, err, "read token")
	want := tok
	want.CreatedAt = stored(tok.CreatedAt)
	want.ExpiresAt = storedPtr(tok.ExpiresAt)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token mismatch (-want +got):\n%s", diff)
	}
	if got.Hash != auth.HashToken(plain) {
		t.Errorf("stored hash %q is not the hash of the secret", got.Hash)
	}
	if strings.Contains(got.Hash, plain) {
		t.Errorf("the secret is stored")
	}
	if err := got.Check(plain, base()); err != nil {
		t.Errorf("Check(secret) on the stored token: %v", err)
	}
	if err := got.Check(plain+"x", base()); !errors.Is(err, auth.ErrUnknownToken) {
		t.Errorf("Check(wrong secret) = %v, want ErrUnknownToken", err)
	}
}

func testTokenConflict(t *testing.T, db *store.DB) {
	ctx := t.Context()
	_, tok := newToken("a", base(), 0)
	must(t, db.CreateToken(ctx, tok), "create token")
	_, other := newToken("b", base(), 0)
	other.ID = tok.ID
	wantCode(t, db.CreateToken(ctx, other), glassbox.EConflict, "create a token with an existing id")
	got, err := db.Token(ctx, tok.ID)
	must(t, err, "read token")
	if got.Name != "a" {
		t.Errorf("token name %q after the conflicting create, want %q", got.Name, "a")
	}
}

func testTokenRejectsPlaintext(t *testing.T, db *store.DB) {
	ctx := t.Context()
	plain, tok := newToken("leaky", base(), 0)
	tok.Hash = plain
	wantCode(t, db.CreateToken(ctx, tok), glassbox.EInvalid, "create a token whose hash is the secret")
	tok.Hash = ""
	wantCode(t, db.CreateToken(ctx, tok), glassbox.EInvalid, "create a token without hash")
	_, tok = newToken("noid", base(), 0)
	tok.ID = ""
	wantCode(t, db.CreateToken(ctx, tok), glassbox.EInvalid, "create a token without id")
	list, err := db.ListTokens(ctx)
	must(t, err, "list tokens")
	if len(list) != 0 {
		t.Errorf("%d tokens stored after rejected creates, want 0", len(list))
	}
}

func testTokenNotFound(t *testing.T, db *store.DB) {
	ctx := t.Context()
	_, err := db.Token(ctx, "missing1")
	wantUnknownToken(t, err, "Token")
	wantUnknownToken(t, db.RevokeToken(ctx, "missing1", base()), "RevokeToken")
	wantUnknownToken(t, db.TouchToken(ctx, "missing1", base()), "TouchToken")
}

func testTokenRevoke(t *testing.T, db *store.DB) {
	ctx := t.Context()
	plain, tok := newToken("ci", base(), 0)
	must(t, db.CreateToken(ctx, tok), "create token")
	first := base().Add(time.Hour)
	must(t, db.RevokeToken(ctx, tok.ID, first), "revoke")
	must(t, db.RevokeToken(ctx, tok.ID, first.Add(time.Hour)), "revoke again")
	got, err := db.Token(ctx, tok.ID)
	must(t, err, "read token")
	if diff := cmp.Diff(storedPtr(&first), got.RevokedAt); diff != "" {
		t.Errorf("RevokedAt after two revocations (-want +got):\n%s", diff)
	}
	if err := got.Check(plain, first); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("Check on a revoked token = %v, want ErrRevoked", err)
	}
}

func testTokenExpiry(t *testing.T, db *store.DB) {
	ctx := t.Context()
	plain, expiring := newToken("short", base(), time.Minute)
	_, forever := newToken("long", base(), 0)
	must(t, db.CreateToken(ctx, expiring), "create expiring token")
	must(t, db.CreateToken(ctx, forever), "create token without expiry")
	got, err := db.Token(ctx, expiring.ID)
	must(t, err, "read expiring token")
	if diff := cmp.Diff(storedPtr(expiring.ExpiresAt), got.ExpiresAt); diff != "" {
		t.Errorf("ExpiresAt (-want +got):\n%s", diff)
	}
	if err := got.Check(plain, base()); err != nil {
		t.Errorf("Check before expiry: %v", err)
	}
	if err := got.Check(plain, base().Add(time.Minute)); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("Check at expiry = %v, want ErrExpired", err)
	}
	got, err = db.Token(ctx, forever.ID)
	must(t, err, "read token without expiry")
	if got.ExpiresAt != nil || got.RevokedAt != nil || got.LastUsed != nil {
		t.Errorf("token without expiry: ExpiresAt %v, RevokedAt %v, LastUsed %v, want all nil", got.ExpiresAt, got.RevokedAt, got.LastUsed)
	}
}

func testTokenTouch(t *testing.T, db *store.DB) {
	ctx := t.Context()
	_, tok := newToken("ci", base(), 0)
	must(t, db.CreateToken(ctx, tok), "create token")
	t2, t1, t3 := base().Add(2*time.Second), base().Add(time.Second), base().Add(3*time.Second)
	for _, step := range []struct {
		at   time.Time
		want time.Time
	}{{t2, t2}, {t1, t2}, {t3, t3}} {
		must(t, db.TouchToken(ctx, tok.ID, step.at), "touch")
		got, err := db.Token(ctx, tok.ID)
		must(t, err, "read token")
		if diff := cmp.Diff(storedPtr(&step.want), got.LastUsed); diff != "" {
			t.Errorf("LastUsed after touching at %v (-want +got):\n%s", step.at, diff)
		}
	}
}

func testTokenList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	list, err := db.ListTokens(ctx)
	must(t, err, "list tokens of an empty store")
	if len(list) != 0 {
		t.Fatalf("empty store lists %d tokens", len(list))
	}
	var want []auth.Token
	for i := range 3 {
		_, tok := newToken(fmt.Sprintf("t%d", i), base().Add(time.Duration(3-i)*time.Minute), 0)
		tok.Roles = nil // stored as an empty list, read back as nil
		must(t, db.CreateToken(ctx, tok), "create token")
		tok.CreatedAt = stored(tok.CreatedAt)
		want = append([]auth.Token{tok}, want...) // oldest first
	}
	list, err = db.ListTokens(ctx)
	must(t, err, "list tokens")
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("ListTokens (-want +got):\n%s", diff)
	}
}

// ---- endpoints ----

// record returns an endpoint record as a caller would pass it.
func record(name string, n int) endpoints.Record {
	return endpoints.Record{
		Name:      name,
		Spec:      fmt.Appendf(nil, "name: %s\nupstream: http://127.0.0.1:%d\n", name, 9000+n),
		Tags:      map[string]string{"team": "risk", "n": fmt.Sprint(n)},
		UpdatedAt: base().Add(time.Duration(n) * time.Second),
		UpdatedBy: "user:alice",
		Source:    "api",
	}
}

// revision reads the endpoints revision.
func revision(t *testing.T, db *store.DB) int64 {
	t.Helper()
	rev, err := db.EndpointsRevision(t.Context())
	must(t, err, "read endpoints revision")
	return rev
}

func testEndpointRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	if rev := revision(t, db); rev != 0 {
		t.Errorf("revision of an empty store = %d, want 0", rev)
	}
	r := record("churn", 1)
	got, err := db.PutEndpoint(ctx, r, 0)
	must(t, err, "put endpoint")
	want := r
	want.Version, want.UpdatedAt = 1, stored(r.UpdatedAt)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PutEndpoint result (-want +got):\n%s", diff)
	}
	read, err := db.Endpoint(ctx, "churn")
	must(t, err, "read endpoint")
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("Endpoint (-want +got):\n%s", diff)
	}
	if rev := revision(t, db); rev != 1 {
		t.Errorf("revision after one put = %d, want 1", rev)
	}

	// An unconditional put replaces the endpoint and bumps its version.
	r2 := record("churn", 2)
	r2.Tags, r2.Source = nil, "config"
	got, err = db.PutEndpoint(ctx, r2, 0)
	must(t, err, "replace endpoint")
	want = r2
	want.Version, want.UpdatedAt = 2, stored(r2.UpdatedAt)
	read, err = db.Endpoint(ctx, "churn")
	must(t, err, "read endpoint")
	for _, g := range []endpoints.Record{got, read} {
		if diff := cmp.Diff(want, g); diff != "" {
			t.Errorf("replaced endpoint (-want +got):\n%s", diff)
		}
	}
	// A second process sees the change through the revision.
	if rev := revision(t, reopen(t, db)); rev != 2 {
		t.Errorf("revision seen by another handle = %d, want 2", rev)
	}
}

// wantVersionConflict checks the optimistic-concurrency error.
func wantVersionConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, endpoints.ErrVersionConflict) {
		t.Fatalf("%s: err = %v, want one wrapping ErrVersionConflict", what, err)
	}
	wantCode(t, err, glassbox.EConflict, what)
}

func testEndpointVersionConflict(t *testing.T, db *store.DB) {
	ctx := t.Context()
	_, err := db.PutEndpoint(ctx, record("fraud", 1), 3)
	wantVersionConflict(t, err, "conditional put of a missing endpoint")
	v1, err := db.PutEndpoint(ctx, record("fraud", 1), 0)
	must(t, err, "create endpoint")
	v2, err := db.PutEndpoint(ctx, record("fraud", 2), v1.Version)
	must(t, err, "conditional put at the current version")
	if v2.Version != 2 {
		t.Errorf("version after conditional put = %d, want 2", v2.Version)
	}
	rev := revision(t, db)
	_, err = db.PutEndpoint(ctx, record("fraud", 3), v1.Version)
	wantVersionConflict(t, err, "conditional put at a stale version")
	if got := revision(t, db); got != rev {
		t.Errorf("revision moved from %d to %d on a failed put", rev, got)
	}
	read, err := db.Endpoint(ctx, "fraud")
	must(t, err, "read endpoint")
	if diff := cmp.Diff(v2, read); diff != "" {
		t.Errorf("endpoint after a conflicting put (-want +got):\n%s", diff)
	}
}

func testEndpointConcurrentPuts(t *testing.T, db *store.DB) {
	ctx := t.Context()
	_, err := db.PutEndpoint(ctx, record("race", 0), 0)
	must(t, err, "create endpoint")
	handles := []*store.DB{db, reopen(t, db)}
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = handles[i%2].PutEndpoint(ctx, record("race", i+1), 1)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, endpoints.ErrVersionConflict):
			t.Errorf("writer %d: %v, want success or ErrVersionConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d writers at version 1 succeeded, want exactly 1", won, writers)
	}
	read, err := db.Endpoint(ctx, "race")
	must(t, err, "read endpoint")
	if read.Version != 2 {
		t.Errorf("version = %d, want 2", read.Version)
	}
	if rev := revision(t, db); rev != 2 {
		t.Errorf("revision = %d, want 2 (one create, one successful put)", rev)
	}
}

func testEndpointDelete(t *testing.T, db *store.DB) {
	ctx := t.Context()
	wantCode(t, db.DeleteEndpoint(ctx, "ghost"), glassbox.ENotFound, "delete a missing endpoint")
	if rev := revision(t, db); rev != 0 {
		t.Errorf("revision after a failed delete = %d, want 0", rev)
	}
	_, err := db.PutEndpoint(ctx, record("churn", 1), 0)
	must(t, err, "create endpoint")
	must(t, db.DeleteEndpoint(ctx, "churn"), "delete endpoint")
	if rev := revision(t, db); rev != 2 {
		t.Errorf("revision after create and delete = %d, want 2", rev)
	}
	_, err = db.Endpoint(ctx, "churn")
	wantCode(t, err, glassbox.ENotFound, "read a deleted endpoint")
	wantCode(t, db.DeleteEndpoint(ctx, "churn"), glassbox.ENotFound, "delete twice")
	// Recreated, it starts again at version 1.
	got, err := db.PutEndpoint(ctx, record("churn", 2), 0)
	must(t, err, "recreate endpoint")
	if got.Version != 1 {
		t.Errorf("recreated endpoint version = %d, want 1", got.Version)
	}
}

func testEndpointList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	list, err := db.ListEndpoints(ctx)
	must(t, err, "list endpoints of an empty store")
	if len(list) != 0 {
		t.Fatalf("empty store lists %d endpoints", len(list))
	}
	var want []endpoints.Record
	for i, name := range []string{"b", "a", "c-1", "C", "a-2"} {
		got, err := db.PutEndpoint(ctx, record(name, i), 0)
		must(t, err, "put endpoint")
		want = append(want, got)
	}
	slices.SortFunc(want, func(a, b endpoints.Record) int { return strings.Compare(a.Name, b.Name) })
	list, err = db.ListEndpoints(ctx)
	must(t, err, "list endpoints")
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("ListEndpoints (-want +got):\n%s", diff)
	}
}

func testEndpointInvalid(t *testing.T, db *store.DB) {
	ctx := t.Context()
	_, err := db.PutEndpoint(ctx, record("", 1), 0)
	wantCode(t, err, glassbox.EInvalid, "put an endpoint without name")
	_, err = db.PutEndpoint(ctx, record("x", 1), -1)
	wantCode(t, err, glassbox.EInvalid, "put with a negative version")
}

// ---- audit ----

// event returns an unsealed audit event.
func event(i int) audit.Event {
	return audit.Event{
		Time:       base().Add(time.Duration(i) * time.Second),
		Actor:      fmt.Sprintf("token:t%d", i%3),
		Action:     []string{"endpoints.update", "tokens.create"}[i%2],
		Resource:   fmt.Sprintf("endpoint/e%d", i%4),
		Result:     audit.ResultOK,
		Status:     200,
		RequestID:  fmt.Sprintf("req-%d", i),
		ClientAddr: "127.0.0.1:5000",
		Details:    "n=" + fmt.Sprint(i),
	}
}

// appendEvents appends n events made by event(0..n-1) and returns them as
// stored.
func appendEvents(t *testing.T, db *store.DB, n int) []audit.Event {
	t.Helper()
	out := make([]audit.Event, n)
	for i := range n {
		e := event(i)
		must(t, db.AppendAudit(t.Context(), &e), "append audit event")
		out[i] = e
	}
	return out
}

// verify runs the whole log through an audit.Verifier.
func verify(t *testing.T, db *store.DB) *audit.Verifier {
	t.Helper()
	v := &audit.Verifier{}
	must(t, db.EachAudit(t.Context(), func(e audit.Event) error { v.Add(e); return nil }), "walk audit log")
	return v
}

func testAuditAppend(t *testing.T, db *store.DB) {
	ctx := t.Context()
	evs := appendEvents(t, db, 5)
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d: Seq %d, want %d", i, e.Seq, i+1)
		}
		if !e.Time.Equal(stored(event(i).Time)) || e.Time.Location() != time.UTC {
			t.Errorf("event %d: Time %v, want %v in UTC", i, e.Time, stored(event(i).Time))
		}
		prev := audit.GenesisHash
		if i > 0 {
			prev = evs[i-1].Hash
		}
		if e.PrevHash != prev || e.Hash != audit.ComputeHash(prev, &e) {
			t.Errorf("event %d is not sealed against its predecessor", i)
		}
	}
	got, err := db.ListAudit(ctx, audit.Filter{})
	must(t, err, "list audit events")
	if diff := cmp.Diff(evs, got); diff != "" {
		t.Errorf("ListAudit (-want +got):\n%s", diff)
	}
	// A zero time is set to now; a nil event is invalid.
	e := audit.Event{Actor: "system", Action: "store.test", Resource: "-", Result: audit.ResultOK}
	before := time.Now().Add(-time.Second)
	must(t, db.AppendAudit(ctx, &e), "append an event without time")
	if e.Time.Before(before) || e.Seq != 6 {
		t.Errorf("event without time stored as Seq %d at %v, want Seq 6 at about now", e.Seq, e.Time)
	}
	wantCode(t, db.AppendAudit(ctx, nil), glassbox.EInvalid, "append nil")
	if v := verify(t, db); v.Checked != 6 || len(v.Problems) != 0 {
		t.Errorf("verifier checked %d events, problems %v; want 6 and none", v.Checked, v.Problems)
	}
}

func testAuditList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	evs := appendEvents(t, db, 24)
	pick := func(keep func(audit.Event) bool) []audit.Event {
		var out []audit.Event
		for _, e := range evs {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	tests := []struct {
		name string
		f    audit.Filter
		want []audit.Event
	}{
		{"all", audit.Filter{}, evs},
		{"actor", audit.Filter{Actor: "token:t1"}, pick(func(e audit.Event) bool { return e.Actor == "token:t1" })},
		{"action", audit.Filter{Action: "tokens.create"}, pick(func(e audit.Event) bool { return e.Action == "tokens.create" })},
		{"resource", audit.Filter{Resource: "endpoint/e2"}, pick(func(e audit.Event) bool { return e.Resource == "endpoint/e2" })},
		{"actor and resource", audit.Filter{Actor: "token:t0", Resource: "endpoint/e0"},
			pick(func(e audit.Event) bool { return e.Actor == "token:t0" && e.Resource == "endpoint/e0" })},
		{"since inclusive, until exclusive", audit.Filter{Since: evs[5].Time, Until: evs[9].Time}, evs[5:9]},
		{"after seq", audit.Filter{AfterSeq: 20}, evs[20:]},
		{"limit", audit.Filter{Limit: 7}, evs[:7]},
		{"page", audit.Filter{AfterSeq: 7, Limit: 7}, evs[7:14]},
		{"no match", audit.Filter{Actor: "nobody"}, nil},
	}
	for _, tt := range tests {
		got, err := db.ListAudit(ctx, tt.f)
		must(t, err, tt.name)
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ListAudit %s (-want +got):\n%s", tt.name, diff)
		}
	}
	_, err := db.ListAudit(ctx, audit.Filter{Limit: -1})
	wantCode(t, err, glassbox.EInvalid, "negative limit")
}

func testAuditEach(t *testing.T, db *store.DB) {
	ctx := t.Context()
	// Empty log: fn is never called.
	must(t, db.EachAudit(ctx, func(audit.Event) error { return errors.New("called") }), "walk an empty log")
	// More than one page (1000 events per read).
	const n = 1500
	evs := make([]audit.Event, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				e := event(i)
				if err := db.AppendAudit(ctx, &e); err != nil {
					t.Errorf("append: %v", err)
					return
				}
				evs[e.Seq-1] = e
			}
		})
	}
	wg.Wait()
	var got []audit.Event
	must(t, db.EachAudit(ctx, func(e audit.Event) error { got = append(got, e); return nil }), "walk log")
	if diff := cmp.Diff(evs, got); diff != "" {
		t.Errorf("EachAudit (-want +got):\n%s", diff)
	}
	// fn's error stops the walk and comes back unchanged.
	stop := errors.New("stop")
	calls := 0
	err := db.EachAudit(ctx, func(audit.Event) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachAudit with a failing fn = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

// testAuditConcurrentChain appends 200 events from 8 goroutines spread over
// two handles (two processes, in effect), checks that they form one
// gap-free chain, then tampers with rows through raw SQL and checks that
// the Verifier notices.
func testAuditConcurrentChain(t *testing.T, db *store.DB) {
	ctx := t.Context()
	handles := []*store.DB{db, reopen(t, db)}
	const goroutines, perGoroutine = 8, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			h := handles[g%len(handles)]
			for i := range perGoroutine {
				e := event(g*perGoroutine + i)
				e.Actor = fmt.Sprintf("proc:%d/goroutine:%d", g%len(handles), g)
				if err := h.AppendAudit(ctx, &e); err != nil {
					t.Errorf("goroutine %d: append: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	const total = goroutines * perGoroutine
	v := verify(t, handles[1])
	if v.Checked != total || len(v.Problems) != 0 {
		t.Fatalf("after %d concurrent appends the verifier checked %d events with problems %v", total, v.Checked, v.Problems)
	}
	all, err := db.ListAudit(ctx, audit.Filter{Limit: total + 1})
	must(t, err, "list audit events")
	if len(all) != total || all[0].Seq != 1 || all[total-1].Seq != total {
		t.Fatalf("ListAudit returned %d events, want Seq 1..%d", len(all), total)
	}

	raw := db.SQLDB()
	exec := func(stmt string) {
		t.Helper()
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	wantProblem := func(v *audit.Verifier, seq int64, reason string) {
		t.Helper()
		for _, p := range v.Problems {
			if p.Seq == seq && strings.Contains(p.Reason, reason) {
				return
			}
		}
		t.Errorf("verifier problems %v: want one at Seq %d containing %q", v.Problems, seq, reason)
	}

	exec("UPDATE audit_events SET actor = 'mallory' WHERE seq = 50")
	v = verify(t, db)
	wantProblem(v, 50, "was modified")
	if len(v.Problems) != 1 {
		t.Errorf("after changing one actor: problems %v, want exactly one", v.Problems)
	}

	exec("DELETE FROM audit_events WHERE seq = 100")
	v = verify(t, db)
	wantProblem(v, 50, "was modified")
	wantProblem(v, 101, "missing")

	// Deleting the newest events does not let the chain quietly restart
	// from the shorter log: the next append still follows the deleted head.
	exec(fmt.Sprintf("DELETE FROM audit_events WHERE seq > %d", total-10))
	e := event(999)
	must(t, handles[1].AppendAudit(ctx, &e), "append after truncation")
	if e.Seq != total+1 {
		t.Errorf("append after deleting the newest events got Seq %d, want %d", e.Seq, total+1)
	}
	wantProblem(verify(t, db), total+1, "missing")
}

// ---- capture index ----

// entry returns an index entry of endpoint ep.
func entry(ep string, i int, at time.Time) capture.IndexEntry {
	return capture.IndexEntry{
		EventID:     fmt.Sprintf("evt-%s-%05d", ep, i),
		InferenceID: fmt.Sprintf("inf-%d", i%50),
		Endpoint:    ep,
		Variant:     []string{"AllTraffic", "Shadow"}[i%2],
		Time:        at,
		Status:      200 + i%3,
		Object:      fmt.Sprintf("captures/%s/2026/03/01/12/part-%03d.jsonl", ep, i/100),
		Line:        i%100 + 1,
	}
}

// storedEntry is what the index keeps of e.
func storedEntry(e capture.IndexEntry) capture.IndexEntry {
	e.Time = stored(e.Time)
	return e
}

// listAll pages through f with page size limit and returns every entry.
func listAll(t *testing.T, db *store.DB, f capture.IndexFilter, limit int) []capture.IndexEntry {
	t.Helper()
	f.Limit = limit
	var out []capture.IndexEntry
	for range 100000 {
		page, err := db.ListCaptures(t.Context(), f)
		must(t, err, "list captures")
		if len(page) > limit {
			t.Fatalf("page of %d entries, limit %d", len(page), limit)
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		last := page[len(page)-1]
		f.AfterTime, f.AfterEventID = last.Time, last.EventID
	}
	t.Fatal("paging does not end")
	return nil
}

func testCaptureRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	in := []capture.IndexEntry{entry("churn", 1, base()), entry("churn", 2, base().Add(time.Millisecond))}
	in[1].InferenceID, in[1].Status = "", 0
	must(t, db.IndexCaptures(ctx, in), "index captures")
	must(t, db.IndexCaptures(ctx, nil), "index no captures")
	for _, e := range in {
		got, err := db.CaptureByEventID(ctx, e.EventID)
		must(t, err, "read capture")
		if diff := cmp.Diff(storedEntry(e), got); diff != "" {
			t.Errorf("CaptureByEventID(%q) (-want +got):\n%s", e.EventID, diff)
		}
		if got.Time.Location() != time.UTC {
			t.Errorf("time %v is not UTC", got.Time)
		}
	}
	_, err := db.CaptureByEventID(ctx, "no-such-event")
	wantCode(t, err, glassbox.ENotFound, "read a missing capture")
}

func testCaptureUpsert(t *testing.T, db *store.DB) {
	ctx := t.Context()
	// 1234 entries: more than one full multi-row INSERT in both dialects
	// plus a partial one.
	var in []capture.IndexEntry
	for i := range 1234 {
		in = append(in, entry("fraud", i, base().Add(time.Duration(i)*time.Millisecond)))
	}
	must(t, db.IndexCaptures(ctx, in), "index captures")
	must(t, db.IndexCaptures(ctx, in), "index the same captures again")
	want := make([]capture.IndexEntry, len(in))
	for i, e := range in {
		want[i] = storedEntry(e)
	}
	if diff := cmp.Diff(want, listAll(t, db, capture.IndexFilter{Endpoint: "fraud"}, 500)); diff != "" {
		t.Fatalf("entries after indexing twice (-want +got):\n%s", diff)
	}
	// Reindexing replaces; within one call the last entry for an id wins.
	moved := in[7]
	moved.Object, moved.Line, moved.Status = "captures/fraud/reindexed.jsonl", 9, 500
	first := moved
	first.Object = "captures/fraud/superseded.jsonl"
	must(t, db.IndexCaptures(ctx, []capture.IndexEntry{first, in[8], moved}), "reindex")
	got, err := db.CaptureByEventID(ctx, moved.EventID)
	must(t, err, "read reindexed capture")
	if diff := cmp.Diff(storedEntry(moved), got); diff != "" {
		t.Errorf("reindexed entry (-want +got):\n%s", diff)
	}
	if n := len(listAll(t, db, capture.IndexFilter{Endpoint: "fraud"}, 1000)); n != len(in) {
		t.Errorf("%d entries after reindexing, want %d", n, len(in))
	}
}

func testCaptureInvalid(t *testing.T, db *store.DB) {
	ctx := t.Context()
	good := entry("churn", 1, base())
	noID, noEndpoint := good, entry("churn", 2, base())
	noID.EventID, noEndpoint.Endpoint = "", ""
	wantCode(t, db.IndexCaptures(ctx, []capture.IndexEntry{good, noID}), glassbox.EInvalid, "index an entry without event id")
	wantCode(t, db.IndexCaptures(ctx, []capture.IndexEntry{good, noEndpoint}), glassbox.EInvalid, "index an entry without endpoint")
	_, err := db.CaptureByEventID(ctx, good.EventID)
	wantCode(t, err, glassbox.ENotFound, "a rejected batch writes nothing")
	_, err = db.ListCaptures(ctx, capture.IndexFilter{})
	wantCode(t, err, glassbox.EInvalid, "list without endpoint")
	_, err = db.ListCaptures(ctx, capture.IndexFilter{Endpoint: "churn", Limit: -1})
	wantCode(t, err, glassbox.EInvalid, "list with a negative limit")
	_, err = db.CapturesByInferenceID(ctx, "")
	wantCode(t, err, glassbox.EInvalid, "captures by an empty inference id")
}

func testCaptureByInferenceID(t *testing.T, db *store.DB) {
	ctx := t.Context()
	var in []capture.IndexEntry
	for i := range 200 {
		in = append(in, entry([]string{"churn", "fraud"}[i%2], i, base().Add(time.Duration(200-i)*time.Second)))
	}
	in[3].InferenceID = ""
	must(t, db.IndexCaptures(ctx, in), "index captures")
	var want []capture.IndexEntry
	for _, e := range in {
		if e.InferenceID == "inf-7" {
			want = append(want, storedEntry(e))
		}
	}
	slices.SortFunc(want, func(a, b capture.IndexEntry) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	got, err := db.CapturesByInferenceID(ctx, "inf-7")
	must(t, err, "captures by inference id")
	if len(want) != 4 {
		t.Fatalf("fixture: %d entries with inf-7, want 4", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CapturesByInferenceID (-want +got):\n%s", diff)
	}
	got, err = db.CapturesByInferenceID(ctx, "inf-unknown")
	must(t, err, "captures by an unknown inference id")
	if len(got) != 0 {
		t.Errorf("unknown inference id: %d entries, want 0", len(got))
	}
}

func testCaptureKeysetPaging(t *testing.T, db *store.DB) {
	ctx := t.Context()
	// 1000 entries with one timestamp, indexed in scrambled order, plus
	// entries of another endpoint and at other times around them.
	var in []capture.IndexEntry
	for i := range 1000 {
		in = append(in, entry("churn", (i*389)%1000, base()))
	}
	var others []capture.IndexEntry
	for i := range 50 {
		others = append(others, entry("fraud", i, base()))
	}
	early, late := entry("churn", 5000, base().Add(-time.Microsecond)), entry("churn", 5001, base().Add(time.Microsecond))
	must(t, db.IndexCaptures(ctx, append(append(others, in...), late, early)), "index captures")

	want := []capture.IndexEntry{storedEntry(early)}
	sorted := slices.Clone(in)
	slices.SortFunc(sorted, func(a, b capture.IndexEntry) int { return strings.Compare(a.EventID, b.EventID) })
	for _, e := range sorted {
		want = append(want, storedEntry(e))
	}
	want = append(want, storedEntry(late))
	for _, limit := range []int{1, 37, 100, 1002, 5000} {
		got := listAll(t, db, capture.IndexFilter{Endpoint: "churn"}, limit)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("paging with limit %d (-want +got):\n%s", limit, diff)
		}
	}
	// Paging inside a time window that holds only the equal timestamps.
	window := capture.IndexFilter{Endpoint: "churn", Since: base(), Until: base().Add(time.Microsecond)}
	if diff := cmp.Diff(want[1:len(want)-1], listAll(t, db, window, 37)); diff != "" {
		t.Errorf("paging the window [base, base+1µs) (-want +got):\n%s", diff)
	}
	// The default page size applies to Limit 0.
	page, err := db.ListCaptures(ctx, capture.IndexFilter{Endpoint: "churn"})
	must(t, err, "list with the default limit")
	if len(page) != store.DefaultListLimit {
		t.Errorf("default page has %d entries, want %d", len(page), store.DefaultListLimit)
	}
	// Resuming inside the run of equal timestamps.
	mid := want[500]
	page, err = db.ListCaptures(ctx, capture.IndexFilter{Endpoint: "churn", AfterTime: mid.Time, AfterEventID: mid.EventID, Limit: 3})
	must(t, err, "resume mid-run")
	if diff := cmp.Diff(want[501:504], page); diff != "" {
		t.Errorf("page after %q (-want +got):\n%s", mid.EventID, diff)
	}
	// A variant filter pages the same way.
	var shadow []capture.IndexEntry
	for _, e := range want {
		if e.Variant == "Shadow" {
			shadow = append(shadow, e)
		}
	}
	if diff := cmp.Diff(shadow, listAll(t, db, capture.IndexFilter{Endpoint: "churn", Variant: "Shadow"}, 64)); diff != "" {
		t.Errorf("paging the Shadow variant (-want +got):\n%s", diff)
	}
	if got := listAll(t, db, capture.IndexFilter{Endpoint: "nobody"}, 10); len(got) != 0 {
		t.Errorf("unknown endpoint lists %d entries", len(got))
	}
}

func testCaptureTimeWindow(t *testing.T, db *store.DB) {
	ctx := t.Context()
	var in, want []capture.IndexEntry
	for i := range 120 {
		e := entry("churn", i, base().Add(time.Duration(i)*time.Second))
		in = append(in, e)
		if i >= 30 && i < 90 {
			want = append(want, storedEntry(e))
		}
	}
	must(t, db.IndexCaptures(ctx, in), "index captures")
	f := capture.IndexFilter{Endpoint: "churn", Since: in[30].Time, Until: in[90].Time}
	if diff := cmp.Diff(want, listAll(t, db, f, 7)); diff != "" {
		t.Errorf("window [30s, 90s) (-want +got):\n%s", diff)
	}
	// Since is inclusive at microsecond precision.
	f = capture.IndexFilter{Endpoint: "churn", Since: stored(in[119].Time), Limit: 10}
	got, err := db.ListCaptures(ctx, f)
	must(t, err, "list since the last entry")
	if diff := cmp.Diff([]capture.IndexEntry{storedEntry(in[119])}, got); diff != "" {
		t.Errorf("since the last entry (-want +got):\n%s", diff)
	}
}
