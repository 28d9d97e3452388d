package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/audit"
)

// auditColumns are the audit_events columns in scan and bind order.
const auditColumns = "seq, at, actor, action, resource, result, status, request_id, client_addr, details, prev_hash, hash"

// auditPageSize is how many events EachAudit reads per query.
const auditPageSize = 1000

// AppendAudit assigns e.Seq, seals e against the chain head and appends it,
// all in one transaction: the one-row audit_head table holds the last Seq
// and Hash and is locked for the transaction (SELECT ... FOR UPDATE on
// PostgreSQL; BEGIN IMMEDIATE takes the database write lock on SQLite), so
// appends from any number of processes form a single gap-free chain. A zero
// e.Time is set to now. On success e holds the stored event (Seq, Time
// truncated to the microsecond, PrevHash, Hash); on error e is unchanged.
//
// Because the head lives in its own row, deleting the newest events does
// not let the next append silently reuse their sequence numbers.
func (db *DB) AppendAudit(ctx context.Context, e *audit.Event) error {
	if e == nil {
		return glassbox.Errorf(glassbox.EInvalid, "append audit event: nil event")
	}
	ev := *e
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var seq int64
		var hash string
		if err := tx.QueryRowContext(ctx, db.q.auditHead).Scan(&seq, &hash); err != nil {
			return fmt.Errorf("read chain head: %w", err)
		}
		var prev *audit.Event
		if seq > 0 {
			prev = &audit.Event{Seq: seq, Hash: hash}
		}
		ev.Seq = seq + 1
		audit.Seal(prev, &ev)
		if _, err := tx.ExecContext(ctx, db.q.auditInsert, ev.Seq, db.timeArg(ev.Time), ev.Actor, ev.Action, ev.Resource,
			ev.Result, ev.Status, ev.RequestID, ev.ClientAddr, ev.Details, ev.PrevHash, ev.Hash); err != nil {
			return fmt.Errorf("insert event %d: %w", ev.Seq, err)
		}
		if _, err := tx.ExecContext(ctx, db.q.auditSetHead, ev.Seq, ev.Hash); err != nil {
			return fmt.Errorf("move chain head: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	*e = ev
	return nil
}

// ListAudit returns up to f.Limit events matching f, in Seq order. Since is
// inclusive and Until exclusive.
func (db *DB) ListAudit(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	q := &query{dialect: db.dialect}
	q.sql("SELECT " + auditColumns + " FROM audit_events WHERE seq > ").arg(f.AfterSeq)
	if f.Actor != "" {
		q.sql(" AND actor = ").arg(f.Actor)
	}
	if f.Action != "" {
		q.sql(" AND action = ").arg(f.Action)
	}
	if f.Resource != "" {
		q.sql(" AND resource = ").arg(f.Resource)
	}
	if !f.Since.IsZero() {
		q.sql(" AND at >= ").arg(db.timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		q.sql(" AND at < ").arg(db.timeArg(f.Until))
	}
	q.sql(" ORDER BY seq LIMIT ").arg(limit)
	rows, err := db.rdb.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out, err := scanAuditRows(rows)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// EachAudit calls fn for every event in Seq order. It reads the log in
// pages of 1000 events and holds no query open while fn runs, so fn may use
// the store. An error from fn stops the walk and is returned as is.
func (db *DB) EachAudit(ctx context.Context, fn func(audit.Event) error) error {
	after := int64(0)
	for {
		rows, err := db.rdb.QueryContext(ctx, db.q.auditPage, after, auditPageSize)
		if err != nil {
			return fmt.Errorf("read audit events after %d: %w", after, err)
		}
		page, err := scanAuditRows(rows)
		if err != nil {
			return fmt.Errorf("read audit events after %d: %w", after, err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < auditPageSize {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// scanAuditRows reads and closes rows of auditColumns.
func scanAuditRows(rows *sql.Rows) ([]audit.Event, error) {
	defer func() { _ = rows.Close() }()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var at timeCol
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Resource, &e.Result, &e.Status,
			&e.RequestID, &e.ClientAddr, &e.Details, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.Time = at.t
		out = append(out, e)
	}
	return out, rows.Err()
}
