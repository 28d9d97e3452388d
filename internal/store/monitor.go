package store

import (
	"context"
	"database/sql"
	"encoding/json"
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
// order, all but details: the light row that lists return.
const executionColumns = "id, endpoint, schedule, scheduled_time, manual, window_start, window_end, status, reason, " +
	"violations, report_uri, owner, lease_until, created_at, started_at, finished_at"

// executionDetails is the JSON of the details column: what a finished
// execution found, beyond its row.
type executionDetails struct {
	ViolationList     []monitor.Violation     `json:"violation_list,omitempty"`
	Features          []monitor.FeatureSignal `json:"features,omitempty"`
	ViolationsByCheck map[string]int          `json:"violations_by_check,omitempty"`
}

// detailsArg returns the details column of e: its JSON, or nil (NULL)
// when it has none.
func detailsArg(e monitor.Execution) (any, error) {
	d := executionDetails{ViolationList: e.ViolationList, Features: e.Features, ViolationsByCheck: e.ViolationsByCheck}
	if len(d.ViolationList) == 0 && len(d.Features) == 0 && len(d.ViolationsByCheck) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, glassbox.Errorf(glassbox.EInvalid, "finish execution %s: encode details: %v", e.ID, err)
	}
	return string(b), nil
}

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

// FinishExecution stores the final Status, Reason, Violations, ReportURI,
// FinishedAt and details (ViolationList, Features, ViolationsByCheck, as
// one JSON column) of the execution e.ID. Errors: EInvalid for a status
// that is not final or details JSON cannot encode (NaN or infinite
// numbers), ENotFound when no execution has the id (a takeover replaced
// it).
func (db *DB) FinishExecution(ctx context.Context, e monitor.Execution) error {
	if !slices.Contains([]string{monitor.ExecutionCompleted, monitor.ExecutionCompletedWithViolations, monitor.ExecutionFailed}, e.Status) {
		return glassbox.Errorf(glassbox.EInvalid, "finish execution %s: status %q is not a final status", e.ID, e.Status)
	}
	if e.FinishedAt.IsZero() {
		e.FinishedAt = time.Now()
	}
	details, err := detailsArg(e)
	if err != nil {
		return err
	}
	res, err := db.wdb.ExecContext(ctx, db.q.executionFinish, e.ID, e.Status, e.Reason, e.Violations, e.ReportURI, db.timeArg(e.FinishedAt), details)
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
// MaxListLimit). It returns the light rows: without details (nil
// ViolationList, Features and ViolationsByCheck), which GetExecution reads.
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

// GetExecution returns one execution with its details; an ENotFound error
// when there is none.
func (db *DB) GetExecution(ctx context.Context, id string) (monitor.Execution, error) {
	var details []byte
	e, err := scanExecution(db.rdb.QueryRowContext(ctx, db.q.executionGet, id), &details)
	if errors.Is(err, sql.ErrNoRows) {
		return monitor.Execution{}, glassbox.Errorf(glassbox.ENotFound, "execution %q not found", id)
	}
	if err != nil {
		return monitor.Execution{}, fmt.Errorf("read execution %q: %w", id, err)
	}
	if details != nil {
		var d executionDetails
		if err := json.Unmarshal(details, &d); err != nil {
			return monitor.Execution{}, fmt.Errorf("read execution %q: decode details: %w", id, err)
		}
		e.ViolationList, e.Features, e.ViolationsByCheck = d.ViolationList, d.Features, d.ViolationsByCheck
	}
	return e, nil
}

// FeatureHistory returns the measures of feature in the finished
// executions of endpoint that recorded it (of schedule only, unless
// schedule is ""; manual runs included), newest scheduled time first (ties
// by id), at most limit (0: DefaultListLimit, capped at MaxListLimit).
// Executions without the feature (failed runs, windows without it) are left
// out. One query: the database unnests the details' features of the
// endpoint's executions, newest first, until limit points are found.
func (db *DB) FeatureHistory(ctx context.Context, endpoint, schedule, feature string, limit int) ([]monitor.FeaturePoint, error) {
	if endpoint == "" || feature == "" {
		return nil, glassbox.Errorf(glassbox.EInvalid, "feature history: endpoint and feature are required")
	}
	limit, err := listLimit(limit)
	if err != nil {
		return nil, err
	}
	q := &query{dialect: db.dialect}
	// The statement is built with query, not rebind: the SQLite JSON path
	// holds a '$'.
	const cols = "e.id, e.schedule, e.manual, e.scheduled_time, e.window_start, e.window_end, e.status, f.value"
	if db.dialect == DialectPostgres {
		q.sql("SELECT " + cols + " FROM monitor_executions e CROSS JOIN LATERAL jsonb_array_elements(e.details -> 'features') AS f(value) " +
			"WHERE e.endpoint = ").arg(endpoint).sql(" AND f.value ->> 'name' = ").arg(feature)
	} else {
		q.sql("SELECT " + cols + " FROM monitor_executions e, json_each(e.details, '$.features') AS f " +
			"WHERE e.endpoint = ").arg(endpoint).sql(" AND json_extract(f.value, '$.name') = ").arg(feature)
	}
	if schedule != "" {
		q.sql(" AND e.schedule = ").arg(schedule)
	}
	q.sql(" AND e.details IS NOT NULL AND e.status <> '" + monitor.ExecutionInProgress + "'")
	q.sql(" ORDER BY e.scheduled_time DESC, e.id DESC LIMIT ").arg(limit)
	rows, err := db.rdb.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, fmt.Errorf("feature history of %s/%s: %w", endpoint, feature, err)
	}
	defer func() { _ = rows.Close() }()
	out := []monitor.FeaturePoint{}
	for rows.Next() {
		var (
			p                 monitor.FeaturePoint
			sched, start, end timeCol
			value             []byte
			sig               monitor.FeatureSignal
		)
		if err := rows.Scan(&p.ExecutionID, &p.Schedule, &p.Manual, &sched, &start, &end, &p.Status, &value); err != nil {
			return nil, fmt.Errorf("feature history of %s/%s: %w", endpoint, feature, err)
		}
		if err := json.Unmarshal(value, &sig); err != nil {
			return nil, fmt.Errorf("feature history of %s/%s: execution %s: decode feature: %w", endpoint, feature, p.ExecutionID, err)
		}
		p.ScheduledTime, p.Start, p.End = sched.t, start.t, end.t
		p.Method, p.Distance, p.PValue, p.Threshold, p.Drifted, p.Completeness =
			sig.Method, sig.Distance, sig.PValue, sig.Threshold, sig.Drifted, sig.Completeness
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("feature history of %s/%s: %w", endpoint, feature, err)
	}
	return out, nil
}

// scanExecution scans one row of executionColumns, then the extra columns
// into more.
func scanExecution(row interface{ Scan(...any) error }, more ...any) (monitor.Execution, error) {
	var (
		e                                        monitor.Execution
		sched, start, end, lease, created, began timeCol
		finished                                 timeCol
	)
	dest := append([]any{&e.ID, &e.Endpoint, &e.Schedule, &sched, &e.Manual, &start, &end, &e.Status, &e.Reason,
		&e.Violations, &e.ReportURI, &e.Owner, &lease, &created, &began, &finished}, more...)
	if err := row.Scan(dest...); err != nil {
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
		"reason = excluded.reason, violations = excluded.violations, report_uri = excluded.report_uri, finished_at = NULL, details = NULL "+
		"WHERE monitor_executions.status = '"+monitor.ExecutionInProgress+"' AND monitor_executions.lease_until <= excluded.started_at")
	finish = rebind(dialect, "UPDATE monitor_executions SET status = $2, reason = $3, violations = $4, report_uri = $5, finished_at = $6, "+
		"details = $7 WHERE id = $1")
	get = rebind(dialect, "SELECT "+executionColumns+", details FROM monitor_executions WHERE id = $1")
	return claim, finish, get
}
