package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/auth"
)

// CreateToken stores t. Only the hash of the secret is stored: t.Hash must
// be a hex SHA-256 (auth.HashToken), which keeps a plaintext secret from
// being stored by mistake. An existing id is an EConflict error.
func (db *DB) CreateToken(ctx context.Context, t auth.Token) error {
	if t.ID == "" {
		return glassbox.Errorf(glassbox.EInvalid, "create token: empty id")
	}
	if b, err := hex.DecodeString(t.Hash); err != nil || len(b) != 32 {
		return glassbox.Errorf(glassbox.EInvalid, "create token %q: the hash must be 64 hex digits (auth.HashToken), never the secret", t.ID)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	roles, err := json.Marshal(nonNil(t.Roles))
	if err != nil {
		return fmt.Errorf("create token %q: encode roles: %w", t.ID, err)
	}
	_, err = db.wdb.ExecContext(ctx, db.q.tokenInsert, t.ID, t.Name, string(roles), t.Hash, db.timeArg(t.CreatedAt),
		t.CreatedBy, db.nullTimeArg(t.ExpiresAt), db.nullTimeArg(t.RevokedAt), db.nullTimeArg(t.LastUsed))
	if isUniqueViolation(err) {
		return glassbox.Errorf(glassbox.EConflict, "token %q already exists", t.ID)
	}
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	return nil
}

// Token returns the token with this id, or an error with code ENotFound
// that wraps auth.ErrUnknownToken.
func (db *DB) Token(ctx context.Context, id string) (auth.Token, error) {
	t, err := scanToken(db.rdb.QueryRowContext(ctx, db.q.tokenGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Token{}, unknownToken(id)
	}
	if err != nil {
		return auth.Token{}, fmt.Errorf("read token %q: %w", id, err)
	}
	return t, nil
}

// ListTokens returns every token, oldest first.
func (db *DB) ListTokens(ctx context.Context) ([]auth.Token, error) {
	rows, err := db.rdb.QueryContext(ctx, db.q.tokenList)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken sets RevokedAt. Revoking again keeps the first time and is
// not an error; an unknown id is (ENotFound, wrapping auth.ErrUnknownToken).
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return db.updateToken(ctx, "revoke", db.q.tokenRevoke, id, at)
}

// TouchToken records a use of the token at the given time. LastUsed never
// moves backwards, whatever order concurrent touches arrive in.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	return db.updateToken(ctx, "touch", db.q.tokenTouch, id, at)
}

// updateToken runs stmt with (id, at) and reports an unknown id.
func (db *DB) updateToken(ctx context.Context, verb, stmt, id string, at time.Time) error {
	res, err := db.wdb.ExecContext(ctx, stmt, id, db.timeArg(at))
	if err != nil {
		return fmt.Errorf("%s token %q: %w", verb, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s token %q: %w", verb, id, err)
	}
	if n == 0 {
		return unknownToken(id)
	}
	return nil
}

// unknownToken is the not-found error of the token store.
func unknownToken(id string) error {
	return &glassbox.Error{Code: glassbox.ENotFound, Message: fmt.Sprintf("token %q", id), Err: auth.ErrUnknownToken}
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanToken reads one row of tokenCols.
func scanToken(r rowScanner) (auth.Token, error) {
	var t auth.Token
	var roles string
	var created, expires, revoked, used timeCol
	if err := r.Scan(&t.ID, &t.Name, &roles, &t.Hash, &created, &t.CreatedBy, &expires, &revoked, &used); err != nil {
		return auth.Token{}, err
	}
	if err := json.Unmarshal([]byte(roles), &t.Roles); err != nil {
		return auth.Token{}, fmt.Errorf("decode roles of token %q: %w", t.ID, err)
	}
	if len(t.Roles) == 0 {
		t.Roles = nil
	}
	t.CreatedAt = created.t
	t.ExpiresAt, t.RevokedAt, t.LastUsed = expires.ptr(), revoked.ptr(), used.ptr()
	return t, nil
}

// nonNil returns s, or an empty slice for nil, so that it encodes as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
