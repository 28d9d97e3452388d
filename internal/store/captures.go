package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/capture"
)

// IndexCaptures upserts entries by event id in one transaction, with
// multi-row INSERT ... ON CONFLICT (event_id) DO UPDATE statements of up to
// 500 (SQLite) or 1000 (PostgreSQL) rows. Indexing an event id again
// replaces its entry; within one call the last entry for an event id wins.
// Every entry needs an EventID and an Endpoint (else EInvalid, and nothing
// is written).
func (db *DB) IndexCaptures(ctx context.Context, entries []capture.IndexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	last := make(map[string]int, len(entries))
	for i, e := range entries {
		switch {
		case e.EventID == "":
			return glassbox.Errorf(glassbox.EInvalid, "index captures: entry %d has no event id", i)
		case e.Endpoint == "":
			return glassbox.Errorf(glassbox.EInvalid, "index captures: entry %d (event %q) has no endpoint", i, e.EventID)
		}
		last[e.EventID] = i
	}
	if len(last) < len(entries) {
		// One statement may not upsert the same key twice (PostgreSQL
		// refuses it), so keep only the last entry per event id.
		uniq := make([]capture.IndexEntry, 0, len(last))
		for i, e := range entries {
			if last[e.EventID] == i {
				uniq = append(uniq, e)
			}
		}
		entries = uniq
	}
	chunk := db.q.captureChunk
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt
		if len(entries) >= chunk {
			var err error
			if full, err = tx.PrepareContext(ctx, db.q.captureInsert); err != nil {
				return err
			}
			defer func() { _ = full.Close() }()
		}
		args := make([]any, 0, min(chunk, len(entries))*captureColumnCount)
		for start := 0; start < len(entries); start += chunk {
			part := entries[start:min(start+chunk, len(entries))]
			args = args[:0]
			for _, e := range part {
				args = append(args, e.EventID, e.InferenceID, e.Endpoint, e.Variant, db.timeArg(e.Time), e.Status, e.Object, e.Line)
			}
			var err error
			if len(part) == chunk {
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, captureInsertSQL(db.dialect, len(part)), args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index %d captures: %w", len(entries), err)
	}
	return nil
}

// CaptureByEventID returns the entry of an event id, or an ENotFound error.
func (db *DB) CaptureByEventID(ctx context.Context, eventID string) (capture.IndexEntry, error) {
	e, err := scanCapture(db.rdb.QueryRowContext(ctx, db.q.captureGet, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return capture.IndexEntry{}, glassbox.Errorf(glassbox.ENotFound, "no capture with event id %q", eventID)
	}
	if err != nil {
		return capture.IndexEntry{}, fmt.Errorf("read capture %q: %w", eventID, err)
	}
	return e, nil
}

// CapturesByInferenceID returns every entry with that inference id, in
// (time, event id) order; none is an empty result, not an error. An empty
// inference id is EInvalid.
func (db *DB) CapturesByInferenceID(ctx context.Context, inferenceID string) ([]capture.IndexEntry, error) {
	if inferenceID == "" {
		return nil, glassbox.Errorf(glassbox.EInvalid, "captures by inference id: empty inference id")
	}
	rows, err := db.rdb.QueryContext(ctx, db.q.captureByInfID, inferenceID)
	if err != nil {
		return nil, fmt.Errorf("read captures of inference %q: %w", inferenceID, err)
	}
	out, err := scanCaptureRows(rows)
	if err != nil {
		return nil, fmt.Errorf("read captures of inference %q: %w", inferenceID, err)
	}
	return out, nil
}

// ListCaptures returns a page of an endpoint's entries in (time, event id)
// order, resuming strictly after (f.AfterTime, f.AfterEventID) when either
// is set. It walks the (endpoint, at, event_id) index, so any page costs
// the same however deep it is.
func (db *DB) ListCaptures(ctx context.Context, f capture.IndexFilter) ([]capture.IndexEntry, error) {
	if f.Endpoint == "" {
		return nil, glassbox.Errorf(glassbox.EInvalid, "list captures: an endpoint is required")
	}
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	q := &query{dialect: db.dialect}
	q.sql("SELECT " + captureColumns + " FROM capture_index WHERE endpoint = ").arg(f.Endpoint)
	if f.Variant != "" {
		q.sql(" AND variant = ").arg(f.Variant)
	}
	// At most one lower bound: given both, the later one implies the
	// other, and SQLite seeks the index on (at, event_id) only when the
	// row-value comparison is the sole lower bound on at.
	after := !f.AfterTime.IsZero() || f.AfterEventID != ""
	since := !f.Since.IsZero()
	if after && since {
		if stored := f.AfterTime.UTC().Truncate(time.Microsecond); stored.Before(f.Since.UTC().Truncate(time.Microsecond)) {
			after = false
		} else {
			since = false
		}
	}
	if since {
		q.sql(" AND at >= ").arg(db.timeArg(f.Since))
	}
	if after {
		q.sql(" AND (at, event_id) > (").arg(db.timeArg(f.AfterTime)).sql(", ").arg(f.AfterEventID).sql(")")
	}
	if !f.Until.IsZero() {
		q.sql(" AND at < ").arg(db.timeArg(f.Until))
	}
	q.sql(" ORDER BY at, event_id LIMIT ").arg(limit)
	rows, err := db.rdb.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list captures of %q: %w", f.Endpoint, err)
	}
	out, err := scanCaptureRows(rows)
	if err != nil {
		return nil, fmt.Errorf("list captures of %q: %w", f.Endpoint, err)
	}
	return out, nil
}

// scanCapture reads one row of captureColumns.
func scanCapture(r rowScanner) (capture.IndexEntry, error) {
	var e capture.IndexEntry
	var at timeCol
	if err := r.Scan(&e.EventID, &e.InferenceID, &e.Endpoint, &e.Variant, &at, &e.Status, &e.Object, &e.Line); err != nil {
		return capture.IndexEntry{}, err
	}
	e.Time = at.t
	return e, nil
}

// scanCaptureRows reads and closes rows of captureColumns.
func scanCaptureRows(rows *sql.Rows) ([]capture.IndexEntry, error) {
	defer func() { _ = rows.Close() }()
	var out []capture.IndexEntry
	for rows.Next() {
		e, err := scanCapture(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
