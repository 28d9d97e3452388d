package capture

import (
	"context"
	"time"
)

// IndexEntry locates one captured record: what the capture index keeps so
// that a record is found by event id or inference id, or listed by time,
// without scanning the blob store.
type IndexEntry struct {
	EventID     string    `json:"event_id"`
	InferenceID string    `json:"inference_id,omitempty"`
	Endpoint    string    `json:"endpoint"`
	Variant     string    `json:"variant"`
	Time        time.Time `json:"time"`
	Status      int       `json:"status,omitempty"`
	// Object is the key of the capture object holding the record, and
	// Line its 1-based line number there.
	Object string `json:"object"`
	Line   int    `json:"line"`
}

// IndexFilter selects entries when listing; Endpoint is required.
type IndexFilter struct {
	Endpoint string
	Variant  string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	// After continues a listing: entries strictly after this (time, event
	// id) position, in (time, event id) order.
	AfterTime    time.Time
	AfterEventID string
	Limit        int
}

// Index is the capture index as the capture package uses it. The metadata
// store implements it.
type Index interface {
	// IndexCaptures records entries; indexing an entry again (same event
	// id) replaces it, so re-uploads and reindexing are idempotent.
	IndexCaptures(ctx context.Context, entries []IndexEntry) error
	// CaptureByEventID returns the entry, or an error with code ENotFound.
	CaptureByEventID(ctx context.Context, eventID string) (IndexEntry, error)
	// CapturesByInferenceID returns every entry with that inference id.
	CapturesByInferenceID(ctx context.Context, inferenceID string) ([]IndexEntry, error)
	// ListCaptures pages through an endpoint's entries in time order.
	ListCaptures(ctx context.Context, f IndexFilter) ([]IndexEntry, error)
}
