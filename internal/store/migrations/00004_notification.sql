-- Notifications: each user's inbox, the groups users subscribe to, and
-- delivery over external channels (webhook, email) with its log. Times are
-- Unix microseconds (UTC).

-- +goose Up
-- A group is a topic to subscribe to, namespaced by its owner
-- (catalog.system.<id>, catalog.group.<id>).
CREATE TABLE notification_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

CREATE TABLE notification_subscriptions (
    user_id       TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    group_id      TEXT NOT NULL REFERENCES notification_groups (id) ON DELETE CASCADE,
    subscribed_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX notification_subscriptions_group ON notification_subscriptions (group_id);

-- The inbox. group_id is the group the notification came through, kept
-- (without a foreign key) after the group is removed.
CREATE TABLE notifications (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',
    action_label TEXT NOT NULL DEFAULT '',
    action_url   TEXT NOT NULL DEFAULT '',
    importance   TEXT NOT NULL CHECK (importance IN ('info', 'warning', 'critical')),
    is_read      BOOLEAN NOT NULL DEFAULT FALSE,
    group_id     TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);
CREATE INDEX notifications_user_created ON notifications (user_id, created_at, id);
CREATE INDEX notifications_user_unread ON notifications (user_id, is_read);
CREATE INDEX notifications_read_created ON notifications (is_read, created_at);

-- An external channel as the admin configured it; config is JSON whose
-- shape depends on the channel.
CREATE TABLE notification_channels (
    channel    TEXT PRIMARY KEY,
    enabled    BOOLEAN NOT NULL,
    config     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each user's opt-in per channel (no row: not opted in).
CREATE TABLE notification_channel_prefs (
    user_id    TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    channel    TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, channel)
);

-- One row per notification, user and channel: the outbox the delivery
-- workers claim from, and afterwards the delivery log. payload is the
-- message as sent, so a delivery survives the inbox row's deletion.
CREATE TABLE notification_deliveries (
    id              TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (status, next_attempt_at);
CREATE INDEX notification_deliveries_created ON notification_deliveries (created_at);
CREATE INDEX notification_deliveries_user ON notification_deliveries (user_id);

-- +goose Down
DROP TABLE notification_deliveries;
DROP TABLE notification_channel_prefs;
DROP TABLE notification_channels;
DROP TABLE notifications;
DROP TABLE notification_subscriptions;
DROP TABLE notification_groups;
