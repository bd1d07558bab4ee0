package notification

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// sqlStore is the notification tables. It is the only code that reads
// them. Every query on a user's notifications names the user.
type sqlStore struct {
	db *store.Handle
}

// Inbox.

const notificationColumns = `id, user_id, title, body, action_label, action_url, importance, is_read, group_id, created_at`

func scanNotification(row store.Scanner) (Notification, error) {
	var n Notification
	var label, url, importance string
	var created int64
	if err := row.Scan(&n.ID, &n.UserID, &n.Title, &n.Body, &label, &url, &importance, &n.IsRead, &n.GroupID, &created); err != nil {
		return n, err
	}
	if url != "" {
		n.Action = &Action{Label: label, URL: url}
	}
	n.Importance, n.CreatedAt = Importance(importance), store.FromMicros(created)
	return n, nil
}

func (st *sqlStore) page(ctx context.Context, userID string, f Filter) (Page, error) {
	where := `WHERE user_id = ?`
	if f.UnreadOnly {
		where += ` AND is_read = FALSE`
	}
	p := Page{Notifications: []Notification{}}
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications `+where, userID).Scan(&p.Total); err != nil {
		return p, fmt.Errorf("notification: count for %s: %w", userID, err)
	}
	if p.Total <= f.Offset {
		return p, nil
	}
	rows, err := st.db.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications `+where+`
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, userID, f.Limit, f.Offset)
	if p.Notifications, err = store.All(rows, err, scanNotification); err != nil {
		return p, fmt.Errorf("notification: list for %s: %w", userID, err)
	}
	return p, nil
}

func (st *sqlStore) unreadCount(ctx context.Context, userID string) (int, error) {
	var n int
	err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND is_read = FALSE`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("notification: unread count for %s: %w", userID, err)
	}
	return n, nil
}

// unreadCounts counts the unread notifications of each user (0 for a
// user without any).
func (st *sqlStore) unreadCounts(ctx context.Context, userIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(userIDs))
	for start := 0; start < len(userIDs); start += store.ChunkSize {
		ids := userIDs[start:min(start+store.ChunkSize, len(userIDs))]
		rows, err := st.db.QueryContext(ctx, `SELECT user_id, COUNT(*) FROM notifications
			WHERE is_read = FALSE AND user_id IN (`+store.Placeholders(len(ids))+`) GROUP BY user_id`, store.Args(ids)...)
		if err != nil {
			return nil, fmt.Errorf("notification: unread counts: %w", err)
		}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("notification: unread counts: %w", err)
			}
			out[id] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// markRead marks one of the user's notifications read; ErrNotFound when
// the user has no notification with that id.
func (st *sqlStore) markRead(ctx context.Context, userID, id string) error {
	res, err := st.db.ExecContext(ctx, `UPDATE notifications SET is_read = TRUE WHERE id = ? AND user_id = ?`, id, userID)
	return affected(res, err, "mark read "+id)
}

func (st *sqlStore) markAllRead(ctx context.Context, userID string) error {
	if _, err := st.db.ExecContext(ctx, `UPDATE notifications SET is_read = TRUE WHERE user_id = ? AND is_read = FALSE`, userID); err != nil {
		return fmt.Errorf("notification: mark all read for %s: %w", userID, err)
	}
	return nil
}

func (st *sqlStore) delete(ctx context.Context, userID, id string) error {
	res, err := st.db.ExecContext(ctx, `DELETE FROM notifications WHERE id = ? AND user_id = ?`, id, userID)
	return affected(res, err, "delete "+id)
}

// insert writes the notifications and their deliveries in one
// transaction: a delivery exists only with its notification.
func (st *sqlStore) insert(ctx context.Context, ns []Notification, deliveries []outbound) error {
	return st.db.InTx(ctx, func(tx *store.Tx) error {
		for _, n := range ns {
			var label, url string
			if n.Action != nil {
				label, url = n.Action.Label, n.Action.URL
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (`+notificationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				n.ID, n.UserID, n.Title, n.Body, label, url, string(n.Importance), false, n.GroupID, store.Micros(n.CreatedAt)); err != nil {
				if store.IsForeignKeyViolation(err) {
					return ErrUnknownUser
				}
				return fmt.Errorf("notification: insert for %s: %w", n.UserID, err)
			}
		}
		for _, d := range deliveries {
			if err := insertDelivery(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

// Groups and subscriptions.

func (st *sqlStore) groups(ctx context.Context) ([]Group, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT id, name, description, owner, created_at FROM notification_groups ORDER BY name, id`)
	gs, err := store.All(rows, err, func(row store.Scanner) (Group, error) {
		var g Group
		var created int64
		err := row.Scan(&g.ID, &g.Name, &g.Description, &g.Owner, &created)
		g.CreatedAt = store.FromMicros(created)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("notification: list groups: %w", err)
	}
	return gs, nil
}

// ensureGroup creates the group, or renames it if it exists, and returns
// its subscribers.
func (st *sqlStore) ensureGroup(ctx context.Context, g Group) (users []string, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notification_groups (id, name, description, owner, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, owner = excluded.owner`,
			g.ID, g.Name, g.Description, g.Owner, store.Micros(g.CreatedAt)); err != nil {
			return err
		}
		if err := holdGroup(ctx, tx, g.ID); err != nil {
			return err
		}
		users, err = store.Strings(ctx, tx, `SELECT user_id FROM notification_subscriptions WHERE group_id = ?`, g.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notification: ensure group %s: %w", g.ID, err)
	}
	return users, nil
}

// removeGroup deletes a group and, by cascade, its subscriptions; it
// returns the users who were subscribed.
func (st *sqlStore) removeGroup(ctx context.Context, id string) (users []string, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		if err := holdGroup(ctx, tx, id); err != nil {
			return err
		}
		users, err = store.Strings(ctx, tx, `SELECT user_id FROM notification_subscriptions WHERE group_id = ?`, id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM notification_groups WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notification: remove group %s: %w", id, err)
	}
	return users, nil
}

// holdGroup locks a group's row until the transaction ends, on
// PostgreSQL, so that no subscription to it commits between reading its
// subscribers and the write that concerns them (a subscription's foreign
// key waits for the lock). SQLite's transactions hold the whole database.
func holdGroup(ctx context.Context, tx *store.Tx, id string) error {
	if tx.Dialect() != store.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT id FROM notification_groups WHERE id = ? FOR UPDATE`, id)
	return err
}

// groupIDsOf lists the ids of the groups owned by owner.
func (st *sqlStore) groupIDsOf(ctx context.Context, owner string) ([]string, error) {
	ids, err := store.Strings(ctx, st.db, `SELECT id FROM notification_groups WHERE owner = ?`, owner)
	if err != nil {
		return nil, fmt.Errorf("notification: groups of %s: %w", owner, err)
	}
	return ids, nil
}

func (st *sqlStore) subscriptions(ctx context.Context, userID string) ([]Subscription, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT s.group_id, g.name, s.subscribed_at
		FROM notification_subscriptions s JOIN notification_groups g ON g.id = s.group_id
		WHERE s.user_id = ? ORDER BY g.name, g.id`, userID)
	subs, err := store.All(rows, err, func(row store.Scanner) (Subscription, error) {
		var s Subscription
		var at int64
		err := row.Scan(&s.GroupID, &s.GroupName, &at)
		s.SubscribedAt = store.FromMicros(at)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("notification: subscriptions of %s: %w", userID, err)
	}
	return subs, nil
}

// subscribe is idempotent; ErrNotFound for an unknown group.
func (st *sqlStore) subscribe(ctx context.Context, userID, groupID string, at time.Time) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO notification_subscriptions (user_id, group_id, subscribed_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id, group_id) DO NOTHING`, userID, groupID, store.Micros(at))
	if store.IsForeignKeyViolation(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("notification: subscribe %s to %s: %w", userID, groupID, err)
	}
	return nil
}

// unsubscribe is idempotent for a known group; ErrNotFound for an unknown
// one.
func (st *sqlStore) unsubscribe(ctx context.Context, userID, groupID string) error {
	var n int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notification_groups WHERE id = ?`, groupID).Scan(&n); err != nil {
		return fmt.Errorf("notification: unsubscribe: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	if _, err := st.db.ExecContext(ctx, `DELETE FROM notification_subscriptions WHERE user_id = ? AND group_id = ?`, userID, groupID); err != nil {
		return fmt.Errorf("notification: unsubscribe %s from %s: %w", userID, groupID, err)
	}
	return nil
}

// subscribers returns the distinct subscribers of the groups, each with
// the first of groupIDs they are subscribed to, in a stable order. It
// returns ErrNotFound, naming the group, if a group does not exist.
func (st *sqlStore) subscribers(ctx context.Context, groupIDs []string) (users []string, via map[string]string, err error) {
	rank := make(map[string]int, len(groupIDs))
	for i, g := range groupIDs {
		if _, ok := rank[g]; !ok {
			rank[g] = i
		}
	}
	found := map[string]bool{}
	via = map[string]string{}
	for start := 0; start < len(groupIDs); start += store.ChunkSize {
		ids := groupIDs[start:min(start+store.ChunkSize, len(groupIDs))]
		known, err := store.Strings(ctx, st.db, `SELECT id FROM notification_groups WHERE id IN (`+store.Placeholders(len(ids))+`)`, store.Args(ids)...)
		if err != nil {
			return nil, nil, fmt.Errorf("notification: subscribers: %w", err)
		}
		for _, id := range known {
			found[id] = true
		}
		rows, err := st.db.QueryContext(ctx, `SELECT user_id, group_id FROM notification_subscriptions
			WHERE group_id IN (`+store.Placeholders(len(ids))+`) ORDER BY user_id`, store.Args(ids)...)
		if err != nil {
			return nil, nil, fmt.Errorf("notification: subscribers: %w", err)
		}
		for rows.Next() {
			var u, g string
			if err := rows.Scan(&u, &g); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("notification: subscribers: %w", err)
			}
			if prev, ok := via[u]; !ok {
				users = append(users, u)
				via[u] = g
			} else if rank[g] < rank[prev] {
				via[u] = g
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	for _, g := range groupIDs {
		if !found[g] {
			return nil, nil, &missingError{"group", g, ErrNotFound}
		}
	}
	return users, via, nil
}

// purge deletes read notifications created before cutoff and returns the
// users who had some.
func (st *sqlStore) purge(ctx context.Context, cutoff time.Time) (users []string, deleted int64, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		// The users come from the rows deleted, not from a read before:
		// a notification marked read meanwhile is both deleted and counted.
		all, err := store.Strings(ctx, tx, `DELETE FROM notifications WHERE is_read = TRUE AND created_at < ? RETURNING user_id`, store.Micros(cutoff))
		if err != nil {
			return err
		}
		deleted = int64(len(all))
		users = slices.Compact(slices.Sorted(slices.Values(all)))
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("notification: purge: %w", err)
	}
	return users, deleted, nil
}

func affected(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("notification: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("notification: %s: %w", op, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// existingGroups returns those of ids that name a group, in order.
func (st *sqlStore) existingGroups(ctx context.Context, ids []string) ([]string, error) {
	known := map[string]bool{}
	err := store.InChunks(ids, func(part []string) error {
		found, err := store.Strings(ctx, st.db, `SELECT id FROM notification_groups WHERE id IN (`+store.Placeholders(len(part))+`)`, store.Args(part)...)
		for _, id := range found {
			known[id] = true
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notification: groups: %w", err)
	}
	out := make([]string, 0, len(known))
	for _, id := range ids {
		if known[id] {
			out = append(out, id)
			delete(known, id) // each once
		}
	}
	return out, nil
}
