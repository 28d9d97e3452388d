package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/objstore"
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

// indexFields are the parts of a capture line the index needs; decoding
// only them is cheaper than a whole Record.
type indexFields struct {
	EventMetadata struct {
		EventID       string `json:"eventId"`
		InferenceID   string `json:"inferenceId"`
		InferenceTime string `json:"inferenceTime"`
	} `json:"eventMetadata"`
	Glassbox *struct {
		Time   string `json:"time"`
		Status int    `json:"status"`
	} `json:"glassbox"`
}

// entryFromLine builds the index entry of one capture line stored at
// object:line. ok is false for a line that is not a capture record.
func entryFromLine(info ObjectKeyInfo, object string, line int, b []byte) (IndexEntry, bool) {
	var f indexFields
	if err := json.Unmarshal(b, &f); err != nil || f.EventMetadata.EventID == "" {
		return IndexEntry{}, false
	}
	e := IndexEntry{EventID: f.EventMetadata.EventID, InferenceID: f.EventMetadata.InferenceID,
		Endpoint: info.Endpoint, Variant: info.Variant, Object: object, Line: line}
	t, err := time.Parse(time.RFC3339Nano, f.EventMetadata.InferenceTime)
	if f.Glassbox != nil {
		e.Status = f.Glassbox.Status
		if precise, perr := time.Parse(time.RFC3339Nano, f.Glassbox.Time); perr == nil {
			t, err = precise, nil
		}
	}
	if err != nil {
		t = info.Hour
	}
	e.Time = t.UTC()
	return e, true
}

// Reindex rebuilds the capture index from the blob store: every line of
// every object in the capture layout is (re)indexed, in batches. progress,
// when not nil, is called after each object with the running count.
func Reindex(ctx context.Context, r *Reader, idx Index, progress func(objects, records int)) (int, error) {
	objects, records := 0, 0
	var batch []IndexEntry
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := idx.IndexCaptures(ctx, batch)
		batch = batch[:0]
		return err
	}
	err := r.Bucket.List(ctx, "", func(oi objstore.ObjectInfo) error {
		info, err := ParseObjectKey(oi.Key)
		if err != nil {
			return nil
		}
		rc, err := r.Bucket.Get(ctx, oi.Key)
		if err != nil {
			return fmt.Errorf("open capture object %s: %w", oi.Key, err)
		}
		defer rc.Close()
		br := bufio.NewReaderSize(rc, 64<<10)
		for n := 1; ; n++ {
			line, rerr := br.ReadBytes('\n')
			if e, ok := entryFromLine(info, oi.Key, n, line); ok {
				batch = append(batch, e)
				records++
				if len(batch) >= 1000 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("read capture object %s: %w", oi.Key, rerr)
			}
		}
		objects++
		if progress != nil {
			progress(objects, records)
		}
		return nil
	})
	if err != nil {
		return records, err
	}
	return records, flush()
}

// ReadLine returns the record on a 1-based line of a capture object: how
// an index entry is turned back into its record.
func (r *Reader) ReadLine(ctx context.Context, object string, line int) (*Record, error) {
	rc, err := r.Bucket.Get(ctx, object)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, &glassbox.Error{Code: glassbox.ENotFound, Err: err, Message: "capture object " + object + " is gone (deleted by retention?)"}
		}
		return nil, fmt.Errorf("open capture object %s: %w", object, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	for n := 1; ; n++ {
		b, err := br.ReadBytes('\n')
		if n == line {
			return DecodeRecord(b)
		}
		if err != nil {
			return nil, glassbox.Errorf(glassbox.ENotFound, "capture object %s has no line %d", object, line)
		}
	}
}
