-- Glassbox metadata store, SQLite dialect, version 3: the details of
-- monitoring executions. Keep this file and ../postgres/00003_monitor_details.sql
-- in step.

-- +goose Up

-- details is the JSON object {violation_list, features, violations_by_check}
-- of a finished execution (the substance of its report; see
-- monitor.Execution), NULL while it runs, when it found nothing to record,
-- and for executions finished before this version. Listing executions does
-- not read it; the feature history unnests its features with json_each.
ALTER TABLE monitor_executions ADD COLUMN details TEXT;

-- +goose Down
ALTER TABLE monitor_executions DROP COLUMN details;
