-- Anomaly detection: settings per check and per system assignment, the
-- baselines learnt from runs, the anomaly episodes, and each user's
-- mutes. Times are Unix microseconds (UTC). Rows follow their system and
-- check: deleting either deletes them (ON DELETE CASCADE).

-- +goose Up
CREATE TABLE anomaly_configs (
    configuration_id TEXT PRIMARY KEY REFERENCES healthcheck_configurations (id) ON DELETE CASCADE,
    config           TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- A partial override of the check's settings for one system.
CREATE TABLE anomaly_assignment_configs (
    system_id        TEXT NOT NULL REFERENCES catalog_systems (id) ON DELETE CASCADE,
    configuration_id TEXT NOT NULL REFERENCES healthcheck_configurations (id) ON DELETE CASCADE,
    config           TEXT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (system_id, configuration_id)
);

CREATE TABLE anomaly_baselines (
    system_id        TEXT NOT NULL REFERENCES catalog_systems (id) ON DELETE CASCADE,
    configuration_id TEXT NOT NULL REFERENCES healthcheck_configurations (id) ON DELETE CASCADE,
    field            TEXT NOT NULL,
    samples          INTEGER NOT NULL,
    mean             DOUBLE PRECISION NOT NULL,
    std_dev          DOUBLE PRECISION NOT NULL,
    slope_per_hour   DOUBLE PRECISION NOT NULL,
    median           DOUBLE PRECISION NOT NULL,
    spread           DOUBLE PRECISION NOT NULL,
    trend_spread     DOUBLE PRECISION NOT NULL,
    window_days      INTEGER NOT NULL,
    computed_at      BIGINT NOT NULL,
    PRIMARY KEY (system_id, configuration_id, field)
);

-- An episode: suspicious → anomaly → recovered (terminal; a new episode
-- is a new row). A suspicious one that sees a normal value is deleted.
CREATE TABLE anomalies (
    id               TEXT PRIMARY KEY,
    system_id        TEXT NOT NULL REFERENCES catalog_systems (id) ON DELETE CASCADE,
    configuration_id TEXT NOT NULL REFERENCES healthcheck_configurations (id) ON DELETE CASCADE,
    field            TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('spike', 'drift')),
    state            TEXT NOT NULL CHECK (state IN ('suspicious', 'anomaly', 'recovered')),
    started_at       BIGINT NOT NULL,
    confirmed_at     BIGINT,
    recovered_at     BIGINT,
    updated_at       BIGINT NOT NULL,
    -- The newest observation applied (a run's start, an analyzer pass):
    -- older ones arriving late change nothing.
    observed_at      BIGINT NOT NULL,
    observations     INTEGER NOT NULL,
    flat             INTEGER NOT NULL DEFAULT 0,
    value            DOUBLE PRECISION NOT NULL,
    baseline_median  DOUBLE PRECISION NOT NULL,
    baseline_spread  DOUBLE PRECISION NOT NULL,
    deviation        DOUBLE PRECISION NOT NULL,
    peak_deviation   DOUBLE PRECISION NOT NULL,
    suppressed       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX anomalies_system ON anomalies (system_id, state);
CREATE INDEX anomalies_started ON anomalies (started_at);
-- At most one open episode per system, check, field and kind, across
-- every instance.
CREATE UNIQUE INDEX anomalies_one_open ON anomalies (system_id, configuration_id, field, kind) WHERE state IN ('suspicious', 'anomaly');

-- A user's mute of a system's anomaly notifications: of one field, or of
-- every field ('').
CREATE TABLE anomaly_mutes (
    user_id    TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    system_id  TEXT NOT NULL REFERENCES catalog_systems (id) ON DELETE CASCADE,
    field      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, system_id, field)
);
CREATE INDEX anomaly_mutes_system ON anomaly_mutes (system_id);

-- +goose Down
DROP TABLE anomaly_mutes;
DROP TABLE anomalies;
DROP TABLE anomaly_baselines;
DROP TABLE anomaly_assignment_configs;
DROP TABLE anomaly_configs;
