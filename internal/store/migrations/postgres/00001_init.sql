-- Glassbox metadata store, PostgreSQL dialect, version 1.
-- Times are timestamptz (microsecond precision). JSON fields are text.
-- Identifiers that are compared or paged on use COLLATE "C" so that order is
-- byte order, as in SQLite, whatever the database's locale. Keep this file
-- and ../sqlite/00001_init.sql in step.

-- +goose Up

-- The audit log is a hash chain (internal/audit). audit_head holds the last
-- appended seq and hash; appends lock it with SELECT ... FOR UPDATE and move
-- it in the same transaction, so the chain has one head however many
-- processes append.
CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint  NOT NULL,
    hash text    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    seq         bigint      PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    action      text        NOT NULL,
    resource    text        NOT NULL,
    result      text        NOT NULL,
    status      integer     NOT NULL,
    request_id  text        NOT NULL,
    client_addr text        NOT NULL,
    details     text        NOT NULL,
    prev_hash   text        NOT NULL,
    hash        text        NOT NULL
);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_resource ON audit_events (resource, seq);
CREATE INDEX audit_events_at ON audit_events (at);

-- API tokens: the SHA-256 of the secret only, never the secret.
CREATE TABLE tokens (
    id           text COLLATE "C" PRIMARY KEY,
    name         text        NOT NULL,
    roles        text        NOT NULL, -- JSON array of role names
    hash         text        NOT NULL,
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE endpoints (
    name       text COLLATE "C" PRIMARY KEY,
    spec       bytea       NOT NULL, -- the endpoint's YAML declaration
    tags       text        NOT NULL, -- JSON object
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL,
    source     text        NOT NULL
);

-- Bumped in the transaction of every endpoint change; gateways poll it.
CREATE TABLE endpoints_revision (
    id       integer PRIMARY KEY CHECK (id = 1),
    revision bigint  NOT NULL
);
INSERT INTO endpoints_revision (id, revision) VALUES (1, 0);

-- Capture index: where each captured record lives in the blob store.
CREATE TABLE capture_index (
    event_id     text COLLATE "C" PRIMARY KEY,
    inference_id text COLLATE "C" NOT NULL, -- '' when the caller sent none
    endpoint     text COLLATE "C" NOT NULL,
    variant      text        NOT NULL,
    at           timestamptz NOT NULL,
    status       integer     NOT NULL,
    object       text        NOT NULL,
    line         integer     NOT NULL
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
