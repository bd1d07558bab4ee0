-- Whether an objective's error budget spends downtime that falls inside a
-- maintenance window of its system: 'exclude' (the default) or 'count'.

-- +goose Up
ALTER TABLE slo_objectives ADD COLUMN maintenance TEXT NOT NULL DEFAULT 'exclude' CHECK (maintenance IN ('exclude', 'count'));

-- +goose Down
ALTER TABLE slo_objectives DROP COLUMN maintenance;
