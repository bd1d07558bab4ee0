-- Maintenance windows: planned work on systems, one-off or recurring, the
-- periods each was really in progress, and the timeline of updates.
-- Times are Unix microseconds (UTC).

-- +goose Up
-- A window. start_at and end_at are its current or next occurrence; a
-- recurring window (recurrence_rule not empty) moves them on to the next
-- occurrence when one completes. series_start_at is the DTSTART the rule
-- counts from: the start of the occurrence current when the window's
-- times or rule last changed.
CREATE TABLE maintenances (
    id                     TEXT PRIMARY KEY,
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    status                 TEXT NOT NULL CHECK (status IN ('scheduled', 'in_progress', 'completed', 'cancelled')),
    start_at               BIGINT NOT NULL,
    end_at                 BIGINT NOT NULL,
    suppress_notifications BOOLEAN NOT NULL DEFAULT FALSE,
    recurrence_rule        TEXT NOT NULL DEFAULT '',
    recurrence_timezone    TEXT NOT NULL DEFAULT '',
    series_start_at        BIGINT NOT NULL,
    -- When the current times were set: no maintenance period starts
    -- before it, so a window scheduled after the fact erases no downtime
    -- already spent.
    planned_at             BIGINT NOT NULL,
    -- When the current occurrence really went in progress and ended (an
    -- early start or close leaves the planned times as they were).
    started_at             BIGINT,
    ended_at               BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX maintenances_status ON maintenances (status, start_at);

-- The systems a window covers; SET NULL on a system's deletion, as for
-- incidents (package systemlink).
CREATE TABLE maintenance_systems (
    maintenance_id TEXT NOT NULL REFERENCES maintenances (id) ON DELETE CASCADE,
    system_id      TEXT REFERENCES catalog_systems (id) ON DELETE SET NULL,
    UNIQUE (maintenance_id, system_id)
);
CREATE INDEX maintenance_systems_system ON maintenance_systems (system_id);

-- Each stretch a window was really in progress (ended_at NULL while it
-- is): what error budgets that exclude maintenance clip downtime with.
CREATE TABLE maintenance_periods (
    id             TEXT PRIMARY KEY,
    maintenance_id TEXT NOT NULL REFERENCES maintenances (id) ON DELETE CASCADE,
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT
);
CREATE INDEX maintenance_periods_window ON maintenance_periods (maintenance_id, started_at);
-- At most one open period per window, across every instance.
CREATE UNIQUE INDEX maintenance_periods_one_open ON maintenance_periods (maintenance_id) WHERE ended_at IS NULL;

CREATE TABLE maintenance_updates (
    id              TEXT PRIMARY KEY,
    maintenance_id  TEXT NOT NULL REFERENCES maintenances (id) ON DELETE CASCADE,
    message         TEXT NOT NULL,
    status_change   TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_by_name TEXT NOT NULL DEFAULT '',
    edited_at       BIGINT
);
CREATE INDEX maintenance_updates_window ON maintenance_updates (maintenance_id, created_at);

-- +goose Down
DROP TABLE maintenance_updates;
DROP TABLE maintenance_periods;
DROP TABLE maintenance_systems;
DROP TABLE maintenances;
