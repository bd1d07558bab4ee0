-- +goose Up
CREATE TABLE healthcheck_satellites (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT
);

CREATE TABLE healthcheck_configurations (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    strategy         TEXT NOT NULL,
    config           TEXT NOT NULL,
    interval_seconds INTEGER NOT NULL,
    timeout_seconds  INTEGER NOT NULL,
    enabled          BOOLEAN NOT NULL,
    satellite_id     TEXT REFERENCES healthcheck_satellites(id) ON DELETE SET NULL,
    last_run_at      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX healthcheck_configurations_satellite ON healthcheck_configurations (satellite_id);

-- One row per system and configuration: the association and the check's
-- current state on that system, updated with each run.
CREATE TABLE healthcheck_associations (
    system_id             TEXT NOT NULL REFERENCES catalog_systems(id) ON DELETE CASCADE,
    configuration_id      TEXT NOT NULL REFERENCES healthcheck_configurations(id) ON DELETE CASCADE,
    enabled               BOOLEAN NOT NULL,
    thresholds            TEXT NOT NULL,
    status                TEXT NOT NULL,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    consecutive_successes INTEGER NOT NULL DEFAULT 0,
    recent                TEXT NOT NULL DEFAULT '',
    last_run_at           BIGINT,
    last_run_status       TEXT NOT NULL DEFAULT '',
    last_message          TEXT NOT NULL DEFAULT '',
    last_latency_us       BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    PRIMARY KEY (system_id, configuration_id)
);
CREATE INDEX healthcheck_associations_configuration ON healthcheck_associations (configuration_id);

-- The aggregate status last announced for each system, so a change is
-- announced once.
CREATE TABLE healthcheck_system_status (
    system_id  TEXT PRIMARY KEY REFERENCES catalog_systems(id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);

CREATE TABLE healthcheck_runs (
    id               TEXT PRIMARY KEY,
    configuration_id TEXT NOT NULL REFERENCES healthcheck_configurations(id) ON DELETE CASCADE,
    status           TEXT NOT NULL,
    latency_us       BIGINT NOT NULL,
    message          TEXT NOT NULL,
    details          TEXT NOT NULL,
    source           TEXT NOT NULL,
    started_at       BIGINT NOT NULL
);
CREATE INDEX healthcheck_runs_history ON healthcheck_runs (configuration_id, started_at, id);
CREATE INDEX healthcheck_runs_started ON healthcheck_runs (started_at);

CREATE TABLE healthcheck_hourly (
    configuration_id TEXT NOT NULL REFERENCES healthcheck_configurations(id) ON DELETE CASCADE,
    hour             BIGINT NOT NULL,
    runs             INTEGER NOT NULL,
    failures         INTEGER NOT NULL,
    degraded         INTEGER NOT NULL,
    latency_sum_us   BIGINT NOT NULL,
    latency_max_us   BIGINT NOT NULL,
    buckets          TEXT NOT NULL,
    PRIMARY KEY (configuration_id, hour)
);
CREATE INDEX healthcheck_hourly_hour ON healthcheck_hourly (hour);

-- +goose Down
DROP TABLE healthcheck_hourly;
DROP TABLE healthcheck_runs;
DROP TABLE healthcheck_system_status;
DROP TABLE healthcheck_associations;
DROP TABLE healthcheck_configurations;
DROP TABLE healthcheck_satellites;
