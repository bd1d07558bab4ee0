-- Service level objectives, the dependencies between systems that decide
-- whom downtime is blamed on, and the downtime events the engine records.
-- Times are Unix microseconds (UTC).

-- +goose Up
CREATE TABLE slo_objectives (
    id                 TEXT PRIMARY KEY,
    system_id          TEXT NOT NULL REFERENCES catalog_systems (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    target             DOUBLE PRECISION NOT NULL,
    window_days        INTEGER NOT NULL,
    dependency_mode    TEXT NOT NULL CHECK (dependency_mode IN ('self-only', 'strict')),
    excluded_upstreams TEXT NOT NULL DEFAULT '[]',
    configuration_id   TEXT NOT NULL DEFAULT '',
    -- The alert state last announced ("", "slow", "fast") and whether the
    -- objective was last announced breaching, so each change is
    -- announced once across instances.
    alert_state        TEXT NOT NULL DEFAULT '',
    breaching          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX slo_objectives_system ON slo_objectives (system_id);

-- system_id depends on upstream_id. The graph has no cycles.
CREATE TABLE slo_dependencies (
    system_id   TEXT NOT NULL REFERENCES catalog_systems (id) ON DELETE CASCADE,
    upstream_id TEXT NOT NULL REFERENCES catalog_systems (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (system_id, upstream_id),
    CHECK (system_id <> upstream_id)
);
CREATE INDEX slo_dependencies_upstream ON slo_dependencies (upstream_id);

-- upstream_id has no foreign key: the blame outlives the upstream.
CREATE TABLE slo_downtime_events (
    id            TEXT PRIMARY KEY,
    objective_id  TEXT NOT NULL REFERENCES slo_objectives (id) ON DELETE CASCADE,
    system_id     TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT,
    attribution   TEXT NOT NULL CHECK (attribution IN ('self', 'upstream')),
    upstream_id   TEXT NOT NULL DEFAULT '',
    upstream_name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX slo_events_objective ON slo_downtime_events (objective_id, started_at);
CREATE INDEX slo_events_ended ON slo_downtime_events (ended_at);
-- At most one open event per objective, across every instance.
CREATE UNIQUE INDEX slo_events_one_open ON slo_downtime_events (objective_id) WHERE ended_at IS NULL;

-- +goose Down
DROP TABLE slo_downtime_events;
DROP TABLE slo_dependencies;
DROP TABLE slo_objectives;
