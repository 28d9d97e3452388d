package store

import "strings"

// captureColumns are the capture_index columns in bind order.
const captureColumns = "event_id, inference_id, endpoint, variant, at, status, object, line"

// captureColumnCount is the number of captureColumns.
const captureColumnCount = 8

// Rows per multi-row INSERT into capture_index. SQLite allows 32766 bind
// parameters per statement and PostgreSQL 65535.
const (
	sqliteCaptureChunk   = 500
	postgresCaptureChunk = 1000
)

// queries holds the fixed statements of one dialect, built once by Open.
type queries struct {
	auditHead      string
	auditInsert    string
	auditSetHead   string
	auditPage      string
	tokenInsert    string
	tokenGet       string
	tokenList      string
	tokenRevoke    string
	tokenTouch     string
	endpointUpsert string
	endpointUpdate string
	endpointGet    string
	endpointList   string
	endpointDelete string
	revisionBump   string
	revisionGet    string
	captureGet     string
	captureByInfID string
	// captureChunk rows per INSERT; captureInsert is the statement for a
	// full chunk (a shorter last chunk is built by captureInsertSQL).
	captureChunk  int
	captureInsert string
	// monitor_executions (monitor.go).
	executionClaim  string
	executionFinish string
	executionGet    string
}

// newQueries builds the statements of dialect.
func newQueries(dialect string) queries {
	forUpdate, greatest, chunk := "", "max", sqliteCaptureChunk
	if dialect == DialectPostgres {
		forUpdate, greatest, chunk = " FOR UPDATE", "greatest", postgresCaptureChunk
	}
	r := func(q string) string { return rebind(dialect, q) }
	const tokenCols = "id, name, roles, hash, created_at, created_by, expires_at, revoked_at, last_used_at"
	const endpointCols = "name, spec, tags, version, updated_at, updated_by, source"
	q := queries{
		auditHead:    "SELECT seq, hash FROM audit_head WHERE id = 1" + forUpdate,
		auditInsert:  r("INSERT INTO audit_events (" + auditColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
		auditSetHead: r("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"),
		auditPage:    r("SELECT " + auditColumns + " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"),

		tokenInsert: r("INSERT INTO tokens (" + tokenCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
		tokenGet:    r("SELECT " + tokenCols + " FROM tokens WHERE id = $1"),
		tokenList:   "SELECT " + tokenCols + " FROM tokens ORDER BY created_at, id",
		// The first revocation time wins, so revoking twice changes nothing.
		tokenRevoke: r("UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1"),
		// last_used_at only moves forward when processes touch concurrently.
		tokenTouch: r("UPDATE tokens SET last_used_at = " + greatest + "(COALESCE(last_used_at, $2), $2) WHERE id = $1"),

		endpointUpsert: r("INSERT INTO endpoints (" + endpointCols + ") VALUES ($1, $2, $3, 1, $4, $5, $6) " +
			"ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, tags = excluded.tags, version = endpoints.version + 1, " +
			"updated_at = excluded.updated_at, updated_by = excluded.updated_by, source = excluded.source RETURNING version"),
		endpointUpdate: r("UPDATE endpoints SET spec = $2, tags = $3, version = version + 1, updated_at = $4, updated_by = $5, source = $6 " +
			"WHERE name = $1 AND version = $7 RETURNING version"),
		endpointGet:    r("SELECT " + endpointCols + " FROM endpoints WHERE name = $1"),
		endpointList:   "SELECT " + endpointCols + " FROM endpoints ORDER BY name",
		endpointDelete: r("DELETE FROM endpoints WHERE name = $1"),
		revisionBump:   "UPDATE endpoints_revision SET revision = revision + 1 WHERE id = 1",
		revisionGet:    "SELECT revision FROM endpoints_revision WHERE id = 1",

		captureGet: r("SELECT " + captureColumns + " FROM capture_index WHERE event_id = $1"),
		// inference_id <> '' lets both dialects use the partial index.
		captureByInfID: r("SELECT " + captureColumns + " FROM capture_index WHERE inference_id = $1 AND inference_id <> '' ORDER BY at, event_id"),
		captureChunk:   chunk,
		captureInsert:  captureInsertSQL(dialect, chunk),
	}
	q.executionClaim, q.executionFinish, q.executionGet = executionQueries(dialect)
	return q
}

// captureInsertSQL returns the upsert of rows entries into capture_index.
func captureInsertSQL(dialect string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO capture_index (" + captureColumns + ") VALUES ")
	n := 0
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range captureColumnCount {
			if j > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteString(placeholder(dialect, n))
		}
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT (event_id) DO UPDATE SET inference_id = excluded.inference_id, endpoint = excluded.endpoint, " +
		"variant = excluded.variant, at = excluded.at, status = excluded.status, object = excluded.object, line = excluded.line")
	return b.String()
}
