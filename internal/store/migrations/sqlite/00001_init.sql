-- Glassbox metadata store, SQLite dialect, version 1.
-- Times are INTEGER microseconds since the Unix epoch (UTC). JSON fields
-- are TEXT. Keep this file and ../postgres/00001_init.sql in step: same
-- tables, columns and indexes.

-- +goose Up

-- The audit log is a hash chain (internal/audit). audit_head holds the last
-- appended Seq and Hash; appends read and move it inside one write
-- transaction, so the chain has one head however many processes append.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    resource    TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    client_addr TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_resource ON audit_events (resource, seq);
CREATE INDEX audit_events_at ON audit_events (at);

-- API tokens: the SHA-256 of the secret only, never the secret.
CREATE TABLE tokens (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    roles        TEXT    NOT NULL, -- JSON array of role names
    hash         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE TABLE endpoints (
    name       TEXT    PRIMARY KEY,
    spec       BLOB    NOT NULL, -- the endpoint's YAML declaration
    tags       TEXT    NOT NULL, -- JSON object
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    source     TEXT    NOT NULL
);

-- Bumped in the transaction of every endpoint change; gateways poll it.
CREATE TABLE endpoints_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO endpoints_revision (id, revision) VALUES (1, 0);

-- Capture index: where each captured record lives in the blob store.
CREATE TABLE capture_index (
    event_id     TEXT    PRIMARY KEY,
    inference_id TEXT    NOT NULL, -- '' when the caller sent none
    endpoint     TEXT    NOT NULL,
    variant      TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    object       TEXT    NOT NULL,
    line         INTEGER NOT NULL
);
CREATE INDEX capture_index_endpoint_at ON capture_index (endpoint, at, event_id);
CREATE INDEX capture_index_inference ON capture_index (inference_id) WHERE inference_id <> '';

-- +goose Down
DROP TABLE capture_index;
DROP TABLE endpoints_revision;
DROP TABLE endpoints;
DROP TABLE tokens;
DROP TABLE audit_events;
DROP TABLE audit_head;
