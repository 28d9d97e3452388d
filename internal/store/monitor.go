package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// Interface guard: *DB keeps monitoring executions.
var _ monitor.ExecutionStore = (*DB)(nil)

// executionColumns are the monitor_executions columns in bind and scan
// order.
const executionColumns = "id, endpoint, schedule, scheduled_time, manual, window_start, window_end, status, reason, " +
	"violations, report_uri, owner, lease_until, created_at, started_at, finished_at"

// ClaimExecution records e as InProgress, owned by e.Owner until
// leaseUntil, and reports true; or reports false when the slot (endpoint,
// schedule, scheduled time, manual) is already claimed. A claim that is
// still InProgress with a lease at or before e.StartedAt has expired: it is
// taken over (the row gets e's id, owner, window, lease and start time; its
// creation time stays) and ClaimExecution reports true. One statement does
// it, so concurrent claimers of one slot, in any number of processes, see
// exactly one true.
func (db *DB) ClaimExecution(ctx context.Context, e monitor.Execution, leaseUntil time.Time) (bool, error) {
	switch {
	case e.ID == "" || e.Endpoint == "" || e.Schedule == "":
		return false, glassbox.Errorf(glassbox.EInvalid, "claim execution: id, endpoint and schedule are required")
	case e.ScheduledTime.IsZero() || e.StartedAt.IsZero():
		return false, glassbox.Errorf(glassbox.EInvalid, "claim execution %s: scheduled and start times are required", e.ID)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = e.StartedAt
	}
	res, err := db.wdb.ExecContext(ctx, db.q.executionClaim,
		e.ID, e.Endpoint, e.Schedule, db.timeArg(e.ScheduledTime), e.Manual, db.timeArg(e.Start), db.timeArg(e.End),
		monitor.ExecutionInProgress, "", 0, "", e.Owner, db.timeArg(leaseUntil), db.timeArg(e.CreatedAt), db.timeArg(e.StartedAt), nil)
	if err != nil {
		return false, fmt.Errorf("claim execution %s/%s at %s: %w", e.Endpoint, e.Schedule, e.ScheduledTime.UTC().Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim execution: %w", err)
	}
	return n == 1, nil
}

// FinishExecution stores the final Status, Reason, Violations, ReportURI
// and FinishedAt of the execution e.ID. Errors: EInvalid for a status that
// is not final, ENotFound when no execution has the id (a takeover
// replaced it).
func (db *DB) FinishExecution(ctx context.Context, e monitor.Execution) error {
	if !slices.Contains([]string{monitor.ExecutionCompleted, monitor.ExecutionCompletedWithViolations, monitor.ExecutionFailed}, e.Status) {
		return glassbox.Errorf(glassbox.EInvalid, "finish execution %s: status %q is not a final status", e.ID, e.Status)
	}
	if e.FinishedAt.IsZero() {
		e.FinishedAt = time.Now()
	}
	res, err := db.wdb.ExecContext(ctx, db.q.executionFinish, e.ID, e.Status, e.Reason, e.Violations, e.ReportURI, db.timeArg(e.FinishedAt))
	if err != nil {
		return fmt.Errorf("finish execution %s: %w", e.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("finish execution %s: %w", e.ID, err)
	}
	if n == 0 {
		return glassbox.Errorf(glassbox.ENotFound, "execution %q not found", e.ID)
	}
	return nil
}

// ListExecutions returns the executions matching f, newest scheduled time
// first (ties by id), at most f.Limit (0: DefaultListLimit, capped at
// MaxListLimit).
func (db *DB) ListExecutions(ctx context.Context, f monitor.ExecutionFilter) ([]monitor.Execution, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	q := &query{dialect: db.dialect}
	q.sql("SELECT " + executionColumns + " FROM monitor_executions WHERE 1 = 1")
	if f.Endpoint != "" {
		q.sql(" AND endpoint = ").arg(f.Endpoint)
	}
	if f.Schedule != "" {
		q.sql(" AND schedule = ").arg(f.Schedule)
	}
	if f.Status != "" {
		q.sql(" AND status = ").arg(f.Status)
	}
	q.sql(" ORDER BY scheduled_time DESC, id DESC LIMIT ").arg(limit)
	rows, err := db.rdb.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []monitor.Execution{}
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	return out, nil
}

// GetExecution returns one execution; an ENotFound error when there is
// none.
func (db *DB) GetExecution(ctx context.Context, id string) (monitor.Execution, error) {
	e, err := scanExecution(db.rdb.QueryRowContext(ctx, db.q.executionGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return monitor.Execution{}, glassbox.Errorf(glassbox.ENotFound, "execution %q not found", id)
	}
	if err != nil {
		return monitor.Execution{}, fmt.Errorf("read execution %q: %w", id, err)
	}
	return e, nil
}

// scanExecution scans one row of executionColumns.
func scanExecution(row interface{ Scan(...any) error }) (monitor.Execution, error) {
	var (
		e                                        monitor.Execution
		sched, start, end, lease, created, began timeCol
		finished                                 timeCol
	)
	err := row.Scan(&e.ID, &e.Endpoint, &e.Schedule, &sched, &e.Manual, &start, &end, &e.Status, &e.Reason,
		&e.Violations, &e.ReportURI, &e.Owner, &lease, &created, &began, &finished)
	if err != nil {
		return monitor.Execution{}, err
	}
	e.ScheduledTime, e.Start, e.End, e.CreatedAt, e.StartedAt, e.FinishedAt = sched.t, start.t, end.t, created.t, began.t, finished.t
	return e, nil
}

// executionQueries returns the fixed monitor_executions statements of a
// dialect (see newQueries).
func executionQueries(dialect string) (claim, finish, get string) {
	claim = rebind(dialect, "INSERT INTO monitor_executions ("+executionColumns+") "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "+
		"ON CONFLICT (endpoint, schedule, scheduled_time, manual) DO UPDATE SET "+
		"id = excluded.id, owner = excluded.owner, lease_until = excluded.lease_until, started_at = excluded.started_at, "+
		"window_start = excluded.window_start, window_end = excluded.window_end, status = excluded.status, "+
		"reason = excluded.reason, violations = excluded.violations, report_uri = excluded.report_uri, finished_at = NULL "+
		"WHERE monitor_executions.status = '"+monitor.ExecutionInProgress+"' AND monitor_executions.lease_until <= excluded.started_at")
	finish = rebind(dialect, "UPDATE monitor_executions SET status = $2, reason = $3, violations = $4, report_uri = $5, finished_at = $6 WHERE id = $1")
	get = rebind(dialect, "SELECT "+executionColumns+" FROM monitor_executions WHERE id = $1")
	return claim, finish, get
}
