// Package audit owns the audit log's vocabulary: the Event appended for
// every control-plane action, and the hash chain that makes tampering
// detectable. Each event's Hash covers its own fields and the previous
// event's Hash, so changing or deleting any row breaks every later link.
//
// It is a domain package: storage is behind the Store interface that the
// metadata store implements.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Results of an action.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
	ResultError  = "error"
)

// GenesisHash is the PrevHash of the first event.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Event is one row of the audit log.
type Event struct {
	// Seq numbers events 1, 2, 3... without gaps; the store assigns it.
	Seq int64 `json:"seq"`
	// Time is when the action finished, UTC.
	Time time.Time `json:"time"`
	// Actor is the principal: "token:<id>", "oidc:<subject>", "system".
	Actor string `json:"actor"`
	// Action is what was attempted, e.g. "endpoints.update".
	Action string `json:"action"`
	// Resource names the object acted on, e.g. "endpoint/churn".
	Resource string `json:"resource"`
	// Result is ResultOK, ResultDenied or ResultError.
	Result string `json:"result"`
	// Status is the HTTP status answered, when the action came over HTTP.
	Status int `json:"status,omitempty"`
	// RequestID and ClientAddr tie the event to a request.
	RequestID  string `json:"request_id,omitempty"`
	ClientAddr string `json:"client_addr,omitempty"`
	// Details holds a short, action-specific note (never secrets).
	Details string `json:"details,omitempty"`
	// PrevHash and Hash form the chain; the store computes them.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// ComputeHash returns the hash of e linked to prev: SHA-256 over the
// length-prefixed fields in a fixed order, hex encoded. Seq and Time (in
// Unix nanoseconds) are included, so reordering or re-dating is detected.
func ComputeHash(prev string, e *Event) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(prev)
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UnixNano()))
	h.Write(n[:])
	field(e.Actor)
	field(e.Action)
	field(e.Resource)
	field(e.Result)
	binary.BigEndian.PutUint64(n[:], uint64(e.Status))
	h.Write(n[:])
	field(e.RequestID)
	field(e.ClientAddr)
	field(e.Details)
	return hex.EncodeToString(h.Sum(nil))
}

// Seal fills e.PrevHash and e.Hash given the previous event (nil for the
// first). The store calls it inside the transaction that appends e, after
// assigning e.Seq = prev.Seq+1.
func Seal(prev *Event, e *Event) {
	e.PrevHash = GenesisHash
	if prev != nil {
		e.PrevHash = prev.Hash
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond) // what every store keeps
	e.Hash = ComputeHash(e.PrevHash, e)
}

// Problem is one break in the chain found by a Verifier.
type Problem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Verifier checks a chain event by event, in Seq order.
type Verifier struct {
	prev     *Event
	Checked  int64
	Problems []Problem
}

// Add checks the next event.
func (v *Verifier) Add(e Event) {
	want := int64(1)
	prevHash := GenesisHash
	if v.prev != nil {
		want, prevHash = v.prev.Seq+1, v.prev.Hash
	}
	switch {
	case e.Seq != want:
		v.Problems = append(v.Problems, Problem{Seq: e.Seq, Reason: fmt.Sprintf("expected event %d next: events %d..%d are missing or out of order", want, want, e.Seq-1)})
	case e.PrevHash != prevHash:
		v.Problems = append(v.Problems, Problem{Seq: e.Seq, Reason: "prev_hash does not match the previous event's hash: an earlier event was changed or removed"})
	}
	if got := ComputeHash(e.PrevHash, &e); got != e.Hash {
		v.Problems = append(v.Problems, Problem{Seq: e.Seq, Reason: "hash does not match the event's contents: this event was modified"})
	}
	ev := e
	v.prev = &ev
	v.Checked++
}

// Filter selects events when listing. Zero fields match everything.
type Filter struct {
	Actor    string
	Action   string
	Resource string
	Since    time.Time
	Until    time.Time
	AfterSeq int64 // for paging: events with Seq > AfterSeq
	Limit    int   // 0 means the store's default
}

// Store is what the audit log needs from the metadata store.
type Store interface {
	// AppendAudit assigns Seq, seals e against the last event (see Seal)
	// and appends it atomically: concurrent appends from several processes
	// form one chain.
	AppendAudit(ctx context.Context, e *Event) error
	// ListAudit returns events matching f in Seq order.
	ListAudit(ctx context.Context, f Filter) ([]Event, error)
	// EachAudit calls fn for every event in Seq order (verification,
	// export) without loading the log into memory.
	EachAudit(ctx context.Context, fn func(Event) error) error
}
