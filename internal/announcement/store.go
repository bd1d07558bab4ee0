package announcement

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// sqlStore is the announcement tables. It is the only code that reads
// them.
type sqlStore struct {
	db *store.Handle
	// clock runs the queries of the alarm, counted apart
	// ("announcement-clock") so that the reads' count is the reads'.
	clock *store.Handle
}

func newStore(db *store.DB) sqlStore {
	return sqlStore{db: db.For("announcement"), clock: db.For("announcement-clock")}
}

const columns = `a.id, a.title, a.message, a.severity, a.visibility, a.display_mode, a.active, a.sort_order,
	a.starts_at, a.expires_at, a.created_by, a.created_by_name, a.created_at, a.updated_at`

// order is the display order, the same on both engines.
const order = ` ORDER BY a.sort_order, a.id`

func scanAnnouncement(row store.Scanner, extra ...any) (Announcement, error) {
	var a Announcement
	var starts, expires sql.NullInt64
	var created, updated int64
	dest := []any{&a.ID, &a.Title, &a.Message, &a.Severity, &a.Visibility, &a.DisplayMode, &a.Active, &a.SortOrder,
		&starts, &expires, &a.CreatedBy, &a.CreatedByName, &created, &updated}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return a, err
	}
	a.StartsAt, a.ExpiresAt = fromNull(starts), fromNull(expires)
	a.CreatedAt, a.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	return a, nil
}

func fromNull(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := store.FromMicros(us.Int64)
	return &t
}

func toNull(t *time.Time) any {
	if t == nil {
		return nil
	}
	return store.Micros(*t)
}

// list returns every announcement in display order.
func (st *sqlStore) list(ctx context.Context) ([]Announcement, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+columns+` FROM announcements a`+order)
	as, err := store.All(rows, err, func(row store.Scanner) (Announcement, error) { return scanAnnouncement(row) })
	if err != nil {
		return nil, fmt.Errorf("announcement: list: %w", err)
	}
	return as, nil
}

// live returns the announcements live at now that userID may see ("":
// an anonymous caller, who sees visibility all only), in display order,
// each with Dismissed set to whether the user dismissed it.
func (st *sqlStore) live(ctx context.Context, userID string, now time.Time) ([]Shown, error) {
	where := ` WHERE a.active AND (a.starts_at IS NULL OR a.starts_at <= ?) AND (a.expires_at IS NULL OR a.expires_at > ?)`
	if userID == "" {
		where += ` AND a.visibility = 'all'`
	}
	us := store.Micros(now)
	rows, err := st.db.QueryContext(ctx, `SELECT `+columns+`, d.user_id IS NOT NULL FROM announcements a
		LEFT JOIN announcement_dismissals d ON d.announcement_id = a.id AND d.user_id = ?`+where+order, userID, us, us)
	out, err := store.All(rows, err, func(row store.Scanner) (Shown, error) {
		var dismissed bool
		a, err := scanAnnouncement(row, &dismissed)
		return Shown{Announcement: a, Dismissed: &dismissed}, err
	})
	if err != nil {
		return nil, fmt.Errorf("announcement: live: %w", err)
	}
	return out, nil
}

// get returns one announcement through q; with lock, inside a
// transaction on PostgreSQL, its row is held until the transaction ends
// (SQLite's write transactions hold the whole database from their start).
func (st *sqlStore) get(ctx context.Context, q store.Executor, id string, lock bool) (Announcement, error) {
	suffix := ""
	if lock {
		suffix = store.ForUpdate(st.db)
	}
	a, err := scanAnnouncement(q.QueryRowContext(ctx, `SELECT `+columns+` FROM announcements a WHERE a.id = ?`+suffix, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("announcement: get %s: %w", id, err)
	}
	return a, nil
}

// lockOrder makes the transaction the only writer of announcements until
// it ends, for the changes that read the whole order (a new one goes
// last; a reorder lists every id). Plain reads never wait for it. SQLite's
// write transactions are that already.
func (st *sqlStore) lockOrder(ctx context.Context, tx *store.Tx) error {
	if tx.Dialect() != store.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE announcements IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("announcement: lock: %w", err)
	}
	return nil
}

// insert writes a new announcement after every other one, and returns its
// sort order.
func (st *sqlStore) insert(ctx context.Context, tx *store.Tx, a Announcement) (int, error) {
	if err := st.lockOrder(ctx, tx); err != nil {
		return 0, err
	}
	var last int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(sort_order) + 1, 0) FROM announcements`).Scan(&last); err != nil {
		return 0, fmt.Errorf("announcement: insert: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO announcements (id, title, message, severity, visibility, display_mode, active,
		sort_order, starts_at, expires_at, created_by, created_by_name, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Title, a.Message, string(a.Severity), string(a.Visibility), string(a.DisplayMode), a.Active,
		last, toNull(a.StartsAt), toNull(a.ExpiresAt), a.CreatedBy, a.CreatedByName,
		store.Micros(a.CreatedAt), store.Micros(a.UpdatedAt))
	if err != nil {
		return 0, fmt.Errorf("announcement: insert: %w", err)
	}
	return last, nil
}

// save writes every field an update may change.
func (st *sqlStore) save(ctx context.Context, tx *store.Tx, a Announcement) error {
	_, err := tx.ExecContext(ctx, `UPDATE announcements SET title = ?, message = ?, severity = ?, visibility = ?,
		display_mode = ?, active = ?, starts_at = ?, expires_at = ?, updated_at = ? WHERE id = ?`,
		a.Title, a.Message, string(a.Severity), string(a.Visibility), string(a.DisplayMode), a.Active,
		toNull(a.StartsAt), toNull(a.ExpiresAt), store.Micros(a.UpdatedAt), a.ID)
	if err != nil {
		return fmt.Errorf("announcement: update %s: %w", a.ID, err)
	}
	return nil
}

func (st *sqlStore) delete(ctx context.Context, tx *store.Tx, id string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM announcements WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("announcement: delete %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("announcement: delete %s: %w", id, err)
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ids returns every announcement's id, sorted, holding the order (see
// lockOrder).
func (st *sqlStore) ids(ctx context.Context, tx *store.Tx) ([]string, error) {
	if err := st.lockOrder(ctx, tx); err != nil {
		return nil, err
	}
	ids, err := store.Strings(ctx, tx, `SELECT id FROM announcements`)
	if err != nil {
		return nil, fmt.Errorf("announcement: ids: %w", err)
	}
	slices.Sort(ids) // in Go: the engines' collations may differ
	return ids, nil
}

// setOrder gives ids[i] sort order i; the rows whose order changes are
// updated at now.
func (st *sqlStore) setOrder(ctx context.Context, tx *store.Tx, ids []string, now time.Time) error {
	for i, id := range ids {
		_, err := tx.ExecContext(ctx, `UPDATE announcements SET sort_order = ?, updated_at = ? WHERE id = ? AND sort_order <> ?`,
			i, store.Micros(now), id, i)
		if err != nil {
			return fmt.Errorf("announcement: reorder: %w", err)
		}
	}
	return nil
}

// dismiss records that userID dismissed id, once: a second dismissal
// changes nothing (ON CONFLICT DO NOTHING, on both engines).
func (st *sqlStore) dismiss(ctx context.Context, userID, id string, now time.Time) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO announcement_dismissals (announcement_id, user_id, dismissed_at)
		VALUES (?, ?, ?) ON CONFLICT (announcement_id, user_id) DO NOTHING`, id, userID, store.Micros(now))
	if store.IsForeignKeyViolation(err) {
		// The announcement, or the user, does not exist: say which.
		if _, gerr := st.get(ctx, st.db, id, false); gerr != nil {
			return gerr
		}
		return fmt.Errorf("announcement: dismiss %s: %w", id, errUnknownUser)
	}
	if err != nil {
		return fmt.Errorf("announcement: dismiss %s: %w", id, err)
	}
	return nil
}

// The clock.

// boundary is an active announcement with a start or expiry in a span of
// time, as the clock reads it.
type boundary struct {
	id                  string
	startsAt, expiresAt *time.Time
	updatedAt           time.Time
}

// in reports whether t is set and within (after, through].
func in(t *time.Time, after, through time.Time) bool {
	return t != nil && t.After(after) && !t.After(through)
}

// passed returns the active announcements with a start or an expiry in
// (after, through].
func (st *sqlStore) passed(ctx context.Context, q store.Queryer, after, through time.Time) ([]boundary, error) {
	a, b := store.Micros(after), store.Micros(through)
	rows, err := q.QueryContext(ctx, `SELECT id, starts_at, expires_at, updated_at FROM announcements
		WHERE active AND ((starts_at > ? AND starts_at <= ?) OR (expires_at > ? AND expires_at <= ?)) ORDER BY id`, a, b, a, b)
	bs, err := store.All(rows, err, func(row store.Scanner) (boundary, error) {
		var bd boundary
		var starts, expires sql.NullInt64
		var updated int64
		err := row.Scan(&bd.id, &starts, &expires, &updated)
		bd.startsAt, bd.expiresAt, bd.updatedAt = fromNull(starts), fromNull(expires), store.FromMicros(updated)
		return bd, err
	})
	if err != nil {
		return nil, fmt.Errorf("announcement: boundaries passed: %w", err)
	}
	return bs, nil
}

// nextAfter is the earliest start or expiry after t among active
// announcements; the zero time when there is none.
func (st *sqlStore) nextAfter(ctx context.Context, t time.Time) (time.Time, error) {
	us := store.Micros(t)
	var at sql.NullInt64
	err := st.clock.QueryRowContext(ctx, `SELECT MIN(b) FROM (
		SELECT starts_at AS b FROM announcements WHERE active AND starts_at > ?
		UNION ALL
		SELECT expires_at AS b FROM announcements WHERE active AND expires_at > ?) boundaries`, us, us).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("announcement: next boundary: %w", err)
	}
	if !at.Valid {
		return time.Time{}, nil
	}
	return store.FromMicros(at.Int64), nil
}

// firedThrough is the fleet's mark: every boundary up to it is claimed.
func (st *sqlStore) firedThrough(ctx context.Context) (time.Time, error) {
	var us int64
	if err := st.clock.QueryRowContext(ctx, `SELECT fired_through FROM announcement_clock WHERE id = 1`).Scan(&us); err != nil {
		return time.Time{}, fmt.Errorf("announcement: read the clock: %w", err)
	}
	return store.FromMicros(us), nil
}

// claim moves the fleet's mark on to through and returns the boundaries
// the move covered, (mark, through], for the caller to announce. The mark
// is read holding its row (PostgreSQL: FOR UPDATE; SQLite: the write
// lock) and moved by a conditional UPDATE; won is false, and nothing is
// returned, when the row did not change: another instance claimed
// through (or past) through first.
func (st *sqlStore) claim(ctx context.Context, through time.Time) (bs []boundary, won bool, err error) {
	err = st.clock.InTx(ctx, func(tx *store.Tx) error {
		bs, won = nil, false
		var mark int64
		if err := tx.QueryRowContext(ctx, `SELECT fired_through FROM announcement_clock WHERE id = 1`+store.ForUpdate(tx)).Scan(&mark); err != nil {
			return fmt.Errorf("announcement: claim: %w", err)
		}
		us := store.Micros(through)
		res, err := tx.ExecContext(ctx, `UPDATE announcement_clock SET fired_through = ? WHERE id = 1 AND fired_through < ?`, us, us)
		if err != nil {
			return fmt.Errorf("announcement: claim: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("announcement: claim: %w", err)
		} else if n != 1 {
			return nil
		}
		won = true
		bs, err = st.passed(ctx, tx, store.FromMicros(mark), through)
		return err
	})
	return bs, won, err
}

// errUnknownUser: a dismissal by a user who does not exist (deleted
// meanwhile).
var errUnknownUser = errors.New("announcement: unknown user")
