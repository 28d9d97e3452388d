package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

// PutEndpoint creates or replaces an endpoint and bumps the endpoints
// revision in the same transaction. With expectVersion > 0 the change
// applies only while the stored version is still expectVersion; otherwise
// (including when the endpoint was deleted meanwhile) it returns an EConflict
// error wrapping endpoints.ErrVersionConflict. A zero r.UpdatedAt is set to
// now. The returned record is what was stored.
func (db *DB) PutEndpoint(ctx context.Context, r endpoints.Record, expectVersion int64) (endpoints.Record, error) {
	switch {
	case r.Name == "":
		return endpoints.Record{}, glassbox.Errorf(glassbox.EInvalid, "put endpoint: empty name")
	case expectVersion < 0:
		return endpoints.Record{}, glassbox.Errorf(glassbox.EInvalid, "put endpoint %q: negative expected version %d", r.Name, expectVersion)
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = time.Now()
	}
	r.UpdatedAt = r.UpdatedAt.UTC().Truncate(time.Microsecond)
	tags, err := encodeTags(r.Tags)
	if err != nil {
		return endpoints.Record{}, fmt.Errorf("put endpoint %q: %w", r.Name, err)
	}
	spec := r.Spec
	if spec == nil {
		spec = []byte{}
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var row *sql.Row
		if expectVersion == 0 {
			row = tx.QueryRowContext(ctx, db.q.endpointUpsert, r.Name, spec, tags, db.timeArg(r.UpdatedAt), r.UpdatedBy, r.Source)
		} else {
			row = tx.QueryRowContext(ctx, db.q.endpointUpdate, r.Name, spec, tags, db.timeArg(r.UpdatedAt), r.UpdatedBy, r.Source, expectVersion)
		}
		if err := row.Scan(&r.Version); errors.Is(err, sql.ErrNoRows) {
			return &glassbox.Error{Code: glassbox.EConflict,
				Message: fmt.Sprintf("endpoint %q is no longer at version %d", r.Name, expectVersion),
				Err:     endpoints.ErrVersionConflict}
		} else if err != nil {
			return err
		}
		return db.bumpRevision(ctx, tx)
	})
	if err != nil {
		return endpoints.Record{}, fmt.Errorf("put endpoint %q: %w", r.Name, err)
	}
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	if len(r.Spec) == 0 {
		r.Spec = nil
	}
	return r, nil
}

// DeleteEndpoint removes an endpoint and bumps the endpoints revision; an
// ENotFound error when there is none.
func (db *DB) DeleteEndpoint(ctx context.Context, name string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q.endpointDelete, name)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return glassbox.Errorf(glassbox.ENotFound, "endpoint %q not found", name)
		}
		return db.bumpRevision(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("delete endpoint %q: %w", name, err)
	}
	return nil
}

// Endpoint returns one endpoint; an ENotFound error when there is none.
func (db *DB) Endpoint(ctx context.Context, name string) (endpoints.Record, error) {
	r, err := scanEndpoint(db.rdb.QueryRowContext(ctx, db.q.endpointGet, name))
	if errors.Is(err, sql.ErrNoRows) {
		return endpoints.Record{}, glassbox.Errorf(glassbox.ENotFound, "endpoint %q not found", name)
	}
	if err != nil {
		return endpoints.Record{}, fmt.Errorf("read endpoint %q: %w", name, err)
	}
	return r, nil
}

// ListEndpoints returns every endpoint, sorted by name (byte order).
func (db *DB) ListEndpoints(ctx context.Context) ([]endpoints.Record, error) {
	rows, err := db.rdb.QueryContext(ctx, db.q.endpointList)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []endpoints.Record
	for rows.Next() {
		r, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list endpoints: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return out, nil
}

// EndpointsRevision returns the endpoints revision: a counter that every
// PutEndpoint and DeleteEndpoint, from any process, increments in its own
// transaction.
func (db *DB) EndpointsRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := db.rdb.QueryRowContext(ctx, db.q.revisionGet).Scan(&rev); err != nil {
		return 0, fmt.Errorf("read endpoints revision: %w", err)
	}
	return rev, nil
}

// bumpRevision increments the endpoints revision inside tx.
func (db *DB) bumpRevision(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, db.q.revisionBump); err != nil {
		return fmt.Errorf("bump endpoints revision: %w", err)
	}
	return nil
}

// encodeTags returns tags as a JSON object ({} for none).
func encodeTags(tags map[string]string) (string, error) {
	if tags == nil {
		return "{}", nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return "", fmt.Errorf("encode tags: %w", err)
	}
	return string(b), nil
}

// scanEndpoint reads one row of endpoint columns.
func scanEndpoint(r rowScanner) (endpoints.Record, error) {
	var rec endpoints.Record
	var tags string
	var updated timeCol
	if err := r.Scan(&rec.Name, &rec.Spec, &tags, &rec.Version, &updated, &rec.UpdatedBy, &rec.Source); err != nil {
		return endpoints.Record{}, err
	}
	if err := json.Unmarshal([]byte(tags), &rec.Tags); err != nil {
		return endpoints.Record{}, fmt.Errorf("decode tags of endpoint %q: %w", rec.Name, err)
	}
	if len(rec.Tags) == 0 {
		rec.Tags = nil
	}
	if len(rec.Spec) == 0 {
		rec.Spec = nil
	}
	rec.UpdatedAt = updated.t
	return rec, nil
}
