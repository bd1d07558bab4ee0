-- +goose Up
CREATE TABLE catalog_systems (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE catalog_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE catalog_memberships (
    system_id  TEXT NOT NULL REFERENCES catalog_systems(id) ON DELETE CASCADE,
    group_id   TEXT NOT NULL REFERENCES catalog_groups(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (system_id, group_id)
);
CREATE INDEX catalog_memberships_group ON catalog_memberships (group_id);

CREATE TABLE catalog_views (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    configuration TEXT NOT NULL DEFAULT '{}',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX catalog_views_user ON catalog_views (user_id);

CREATE TABLE catalog_contacts (
    id         TEXT PRIMARY KEY,
    system_id  TEXT NOT NULL REFERENCES catalog_systems(id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    user_id    TEXT REFERENCES auth_users(id) ON DELETE CASCADE,
    email      TEXT NOT NULL DEFAULT '',
    label      TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX catalog_contacts_system ON catalog_contacts (system_id);
CREATE INDEX catalog_contacts_user ON catalog_contacts (user_id);

-- +goose Down
DROP TABLE catalog_contacts;
DROP TABLE catalog_views;
DROP TABLE catalog_memberships;
DROP TABLE catalog_groups;
DROP TABLE catalog_systems;
