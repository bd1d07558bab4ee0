-- Incidents: what went wrong, which systems it affects, and the public
-- timeline of updates posted on it. Times are Unix microseconds (UTC).

-- +goose Up
CREATE TABLE incidents (
    id                     TEXT PRIMARY KEY,
    title                  TEXT NOT NULL,
    description            TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('investigating', 'identified', 'fixing', 'monitoring', 'resolved')),
    severity               TEXT NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
    suppress_notifications BOOLEAN NOT NULL DEFAULT FALSE,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    resolved_at            BIGINT
);
CREATE INDEX incidents_created ON incidents (created_at);

-- The systems an incident affects. Deleting a system sets its links to
-- NULL (not CASCADE), so that the systemDeleted hook can still find the
-- incidents it affected; the hook then removes those links (package
-- systemlink).
CREATE TABLE incident_systems (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    system_id   TEXT REFERENCES catalog_systems (id) ON DELETE SET NULL,
    UNIQUE (incident_id, system_id)
);
CREATE INDEX incident_systems_system ON incident_systems (system_id);

-- The timeline (package timeline). created_by has no foreign key: the
-- record outlives its author.
CREATE TABLE incident_updates (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    message         TEXT NOT NULL,
    status_change   TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_by_name TEXT NOT NULL DEFAULT '',
    edited_at       BIGINT
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, created_at);

-- +goose Down
DROP TABLE incident_updates;
DROP TABLE incident_systems;
DROP TABLE incidents;
