-- Leases: which instance holds a fleet-wide job (an analyzer, a purge)
-- until when (package lease). Times are Unix microseconds (UTC).

-- +goose Up
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
