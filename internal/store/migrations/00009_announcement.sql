-- Announcements: the banner shown on every page, who dismissed which, and
-- the fleet's clock for the instants one starts or expires. Times are
-- Unix microseconds (UTC).

-- +goose Up
-- An announcement is live while active, started (starts_at NULL or past)
-- and not expired (expires_at NULL or still to come). sort_order is the
-- display order (new ones go last; reordering renumbers 0..n-1).
-- created_by has no foreign key, as for timelines: the announcement
-- outlives its author, whose name is kept in created_by_name.
CREATE TABLE announcements (
    id              TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    message         TEXT NOT NULL,
    severity        TEXT NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'critical')),
    visibility      TEXT NOT NULL DEFAULT 'all' CHECK (visibility IN ('all', 'authenticated')),
    display_mode    TEXT NOT NULL DEFAULT 'both' CHECK (display_mode IN ('banner', 'dashboard', 'both')),
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order      INTEGER NOT NULL,
    starts_at       BIGINT,
    expires_at      BIGINT,
    created_by      TEXT NOT NULL DEFAULT '',
    created_by_name TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK (starts_at IS NULL OR expires_at IS NULL OR expires_at > starts_at)
);
CREATE INDEX announcements_order ON announcements (sort_order, id);

-- One row per user and announcement they dismissed. Deleting either (an
-- announcement, or a user in auth_users) deletes the dismissal with it.
CREATE TABLE announcement_dismissals (
    announcement_id TEXT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    dismissed_at    BIGINT NOT NULL,
    PRIMARY KEY (announcement_id, user_id)
);
CREATE INDEX announcement_dismissals_user ON announcement_dismissals (user_id);

-- The one row through which instances claim the instants that passed:
-- every boundary (starts_at or expires_at) up to fired_through has been
-- announced. An instance moves it on with a conditional UPDATE and
-- announces only the boundaries its own update covered, so each is
-- announced once per fleet. Seeded at 0: whatever passed before the
-- first start is announced then.
CREATE TABLE announcement_clock (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    fired_through BIGINT NOT NULL
);
INSERT INTO announcement_clock (id, fired_through) VALUES (1, 0);

-- +goose Down
DROP TABLE announcement_clock;
DROP TABLE announcement_dismissals;
DROP TABLE announcements;
