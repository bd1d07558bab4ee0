-- Whether a system or a group is left out of the public status page.

-- +goose Up
ALTER TABLE catalog_systems ADD COLUMN hidden_from_status BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE catalog_groups ADD COLUMN hidden_from_status BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE catalog_groups DROP COLUMN hidden_from_status;
ALTER TABLE catalog_systems DROP COLUMN hidden_from_status;
