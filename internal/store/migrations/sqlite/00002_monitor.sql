-- Glassbox metadata store, SQLite dialect, version 2: monitoring executions.
-- Keep this file and ../postgres/00002_monitor.sql in step.

-- +goose Up

-- One row per run of a monitoring schedule (internal/monitor). The unique
-- key is the slot: a scheduled slot (manual = 0) is claimed by exactly one
-- process however many run the scheduler; manual runs use the time they
-- were requested as scheduled_time. A claim holds until lease_until; an
-- InProgress row whose lease has passed may be taken over (its id, owner,
-- lease and started_at replaced).
CREATE TABLE monitor_executions (
    id             TEXT    NOT NULL UNIQUE,
    endpoint       TEXT    NOT NULL,
    schedule       TEXT    NOT NULL,
    scheduled_time INTEGER NOT NULL,
    manual         INTEGER NOT NULL, -- 0 or 1
    window_start   INTEGER NOT NULL,
    window_end     INTEGER NOT NULL,
    status         TEXT    NOT NULL, -- InProgress, Completed, CompletedWithViolations, Failed
    reason         TEXT    NOT NULL,
    violations     INTEGER NOT NULL,
    report_uri     TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    lease_until    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    PRIMARY KEY (endpoint, schedule, scheduled_time, manual)
);
CREATE INDEX monitor_executions_recent ON monitor_executions (endpoint, scheduled_time);
CREATE INDEX monitor_executions_time ON monitor_executions (scheduled_time);

-- +goose Down
DROP TABLE monitor_executions;
