-- Glassbox metadata store, PostgreSQL dialect, version 2: monitoring
-- executions. Keep this file and ../sqlite/00002_monitor.sql in step.

-- +goose Up

-- One row per run of a monitoring schedule (internal/monitor). The unique
-- key is the slot: a scheduled slot (manual = false) is claimed by exactly
-- one process however many run the scheduler; manual runs use the time they
-- were requested as scheduled_time. A claim holds until lease_until; an
-- InProgress row whose lease has passed may be taken over (its id, owner,
-- lease and started_at replaced).
CREATE TABLE monitor_executions (
    id             text COLLATE "C" NOT NULL UNIQUE,
    endpoint       text COLLATE "C" NOT NULL,
    schedule       text COLLATE "C" NOT NULL,
    scheduled_time timestamptz NOT NULL,
    manual         boolean     NOT NULL,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    status         text        NOT NULL, -- InProgress, Completed, CompletedWithViolations, Failed
    reason         text        NOT NULL,
    violations     integer     NOT NULL,
    report_uri     text        NOT NULL,
    owner          text        NOT NULL,
    lease_until    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    PRIMARY KEY (endpoint, schedule, scheduled_time, manual)
);
CREATE INDEX monitor_executions_recent ON monitor_executions (endpoint, scheduled_time);
CREATE INDEX monitor_executions_time ON monitor_executions (scheduled_time);

-- +goose Down
DROP TABLE monitor_executions;
