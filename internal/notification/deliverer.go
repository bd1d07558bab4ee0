package notification

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/checkstack/checkstack/internal/delivery"
	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/store"
)

// DeliveryOptions tune the external delivery workers. Zero values are the
// defaults shown.
type DeliveryOptions struct {
	// Workers is how many deliveries are sent at once; 4.
	Workers int
	// MaxAttempts is how many times a delivery is tried before it fails;
	// 8.
	MaxAttempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one (with up to 10% jitter); 5s.
	Backoff time.Duration
	// MaxBackoff caps the wait between attempts; 1h.
	MaxBackoff time.Duration
	// Poll is how often the outbox is read when nothing wakes the
	// workers; 1s.
	Poll time.Duration
	// Lease is how long a worker owns a delivery it claimed; 2m. A send is
	// bounded by half of it, so a delivery is never sent by two workers
	// unless one of them died mid-send.
	Lease time.Duration
	// PurgeEvery is how often the retention job runs; 24h (and once at
	// start).
	PurgeEvery time.Duration
	// Webhook and Email send; nil: their zero values.
	Webhook *delivery.Webhook
	Email   *delivery.Email
}

// outbound is a delivery as the outbox holds it.
type outbound struct {
	ID             string
	NotificationID string
	UserID         string
	Channel        string
	Attempts       int
	Payload        json.RawMessage // the Notification as sent
	CreatedAt      time.Time
	// lease is the lease_until the claim wrote: the worker's token.
	// Recording an outcome requires it still stored, so a worker whose
	// lease ran out (and was taken over) cannot overwrite the new owner's.
	lease int64
}

// deliverer runs the external delivery workers: it claims due deliveries
// from the outbox, sends them, and records each attempt.
type deliverer struct {
	s     *Service
	opts  DeliveryOptions
	wakeC chan struct{}
	jobs  loop.Loop
}

func newDeliverer(s *Service, opts DeliveryOptions) *deliverer {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 5 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Hour
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.PurgeEvery <= 0 {
		opts.PurgeEvery = 24 * time.Hour
	}
	if opts.Webhook == nil {
		opts.Webhook = &delivery.Webhook{}
	}
	if opts.Email == nil {
		opts.Email = &delivery.Email{}
	}
	return &deliverer{s: s, opts: opts, wakeC: make(chan struct{}, 1)}
}

// wake tells the workers that deliveries are due, without waiting.
func (d *deliverer) wake() {
	select {
	case d.wakeC <- struct{}{}:
	default: // already woken
	}
}

// Start runs the delivery workers and the daily retention job until ctx
// ends or Stop is called.
func (s *Service) Start(ctx context.Context) {
	d := s.deliverer
	d.jobs.Start(ctx, d.loop, func(ctx context.Context) {
		loop.Every(ctx, d.opts.PurgeEvery, func(ctx context.Context) {
			if err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "retention failed", "err", err)
			}
		})
	})
}

// Stop stops the workers and waits, until ctx ends, for the sends under
// way; a delivery interrupted mid-send is tried again later (by this or
// another instance). Safe to call more than once.
func (s *Service) Stop(ctx context.Context) error {
	if err := s.deliverer.jobs.Stop(ctx); err != nil {
		return fmt.Errorf("notification: deliveries still running at shutdown: %w", err)
	}
	return nil
}

func (d *deliverer) loop(ctx context.Context) {
	t := time.NewTicker(d.opts.Poll)
	defer t.Stop()
	for {
		d.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wakeC:
		}
	}
}

// drain sends every due delivery, a batch at a time.
func (d *deliverer) drain(ctx context.Context) {
	// Claim no more than can be sent at once, so that no lease runs out
	// while its delivery waits for a worker.
	limit := d.opts.Workers
	for ctx.Err() == nil {
		batch, err := d.s.st.claim(ctx, d.s.now(), d.opts.Lease, limit)
		if err != nil && ctx.Err() == nil {
			d.s.log.ErrorContext(ctx, "cannot read the delivery outbox", "err", err)
		}
		sem := make(chan struct{}, d.opts.Workers)
		var wg sync.WaitGroup
		for _, o := range batch {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				d.attempt(ctx, o)
			}()
		}
		wg.Wait()
		if err != nil || len(batch) < limit {
			return
		}
	}
}

// attempt sends one claimed delivery and records the outcome.
func (d *deliverer) attempt(ctx context.Context, o outbound) {
	st := &d.s.st
	finish := func(status string, attempts int, next time.Time, msg string) {
		// Record even if ctx ended meanwhile: the attempt happened.
		if err := st.finish(context.WithoutCancel(ctx), o, status, attempts, next, msg, d.s.now()); err != nil {
			d.s.log.ErrorContext(ctx, "cannot record a delivery", "delivery", o.ID, "err", err)
		}
	}
	skip := func(reason string) { finish(StatusSkipped, o.Attempts, d.s.now(), reason) }

	ch, err := st.channel(ctx, o.Channel)
	if err != nil {
		d.retry(ctx, o, err, finish)
		return
	}
	if !ch.Configured || !ch.Enabled {
		skip("the channel is not enabled")
		return
	}
	prefs, err := st.preferences(ctx, o.UserID)
	if err != nil {
		d.retry(ctx, o, err, finish)
		return
	}
	if !prefs[o.Channel] {
		skip("the user opted out of the channel")
		return
	}
	user, err := d.s.users(ctx, o.UserID)
	if errors.Is(err, ErrNotFound) {
		skip("the user no longer exists")
		return
	}
	if err != nil {
		d.retry(ctx, o, err, finish)
		return
	}
	var n Notification
	if err := json.Unmarshal(o.Payload, &n); err != nil {
		finish(StatusFailed, o.Attempts, d.s.now(), "unreadable payload: "+err.Error())
		return
	}
	m := delivery.Message{DeliveryID: o.ID, NotificationID: n.ID, UserID: n.UserID, UserEmail: user.Email, UserName: user.Name,
		Title: n.Title, Body: n.Body, Importance: string(n.Importance), GroupID: n.GroupID, CreatedAt: n.CreatedAt}
	if n.Action != nil {
		m.ActionLabel, m.ActionURL = n.Action.Label, n.Action.URL
	}

	sendCtx, cancel := context.WithTimeout(ctx, d.opts.Lease/2)
	defer cancel()
	switch o.Channel {
	case ChannelWebhook:
		err = d.opts.Webhook.Send(sendCtx, ch.raw.Webhook, m)
	case ChannelEmail:
		if user.Email == "" {
			skip("the user has no email address")
			return
		}
		err = d.opts.Email.Send(sendCtx, ch.raw.Email, user.Email, m)
	default:
		skip("unknown channel")
		return
	}
	if err == nil {
		finish(StatusDelivered, o.Attempts+1, d.s.now(), "")
		return
	}
	d.retry(ctx, o, err, finish)
}

// retry records a failed attempt: failed for good when the error is
// permanent or attempts are spent, else pending again after a backoff.
func (d *deliverer) retry(ctx context.Context, o outbound, cause error, finish func(string, int, time.Time, string)) {
	if ctx.Err() != nil {
		// Shutting down: the failure is the shutdown's, not the
		// delivery's. Give it back untried.
		if err := d.s.st.release(context.WithoutCancel(ctx), o); err != nil {
			d.s.log.ErrorContext(ctx, "cannot release a delivery", "delivery", o.ID, "err", err)
		}
		return
	}
	attempts := o.Attempts + 1
	now := d.s.now()
	d.s.log.WarnContext(ctx, "delivery attempt failed", "delivery", o.ID, "channel", o.Channel, "attempt", attempts, "err", cause)
	if delivery.IsPermanent(cause) || attempts >= d.opts.MaxAttempts {
		finish(StatusFailed, attempts, now, cause.Error())
		return
	}
	wait := d.opts.Backoff << min(attempts-1, 30)
	if wait <= 0 || wait > d.opts.MaxBackoff {
		wait = d.opts.MaxBackoff
	}
	wait += time.Duration(rand.Int64N(int64(wait)/10 + 1))
	if ra := delivery.RetryAfter(cause); ra > wait {
		wait = ra
	}
	finish(StatusPending, attempts, now.Add(wait), cause.Error())
}

// Store: the outbox.

func insertDelivery(ctx context.Context, tx *store.Tx, o outbound) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO notification_deliveries
		(id, notification_id, user_id, channel, status, attempts, next_attempt_at, lease_until, last_error, payload, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, ?, 0, '', ?, ?, ?)`,
		o.ID, o.NotificationID, o.UserID, o.Channel, StatusPending, store.Micros(o.CreatedAt), string(o.Payload),
		store.Micros(o.CreatedAt), store.Micros(o.CreatedAt))
	if store.IsForeignKeyViolation(err) {
		return ErrUnknownUser
	}
	if err != nil {
		return fmt.Errorf("notification: enqueue delivery: %w", err)
	}
	return nil
}

// claim leases up to limit due deliveries to the caller. Each is leased by
// a conditional update, so one delivery goes to one worker across
// instances.
func (st *sqlStore) claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]outbound, error) {
	ids, err := store.Strings(ctx, st.db, `SELECT id FROM notification_deliveries
		WHERE status = ? AND next_attempt_at <= ? AND lease_until <= ? ORDER BY next_attempt_at, id LIMIT ?`,
		StatusPending, store.Micros(now), store.Micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("notification: due deliveries: %w", err)
	}
	var out []outbound
	for _, id := range ids {
		o := outbound{ID: id}
		var payload string
		var created int64
		err := st.db.QueryRowContext(ctx, `UPDATE notification_deliveries SET lease_until = ?
			WHERE id = ? AND status = ? AND lease_until <= ?
			RETURNING notification_id, user_id, channel, attempts, payload, created_at`,
			store.Micros(now.Add(lease)), id, StatusPending, store.Micros(now)).
			Scan(&o.NotificationID, &o.UserID, &o.Channel, &o.Attempts, &payload, &created)
		o.lease = store.Micros(now.Add(lease))
		if errors.Is(err, sql.ErrNoRows) {
			continue // another worker has it
		}
		if err != nil {
			return out, fmt.Errorf("notification: claim delivery %s: %w", id, err)
		}
		o.Payload, o.CreatedAt = json.RawMessage(payload), store.FromMicros(created)
		out = append(out, o)
	}
	return out, nil
}

// finish records an attempt's outcome and ends the lease, if the lease is
// still o's (errLeaseLost otherwise).
func (st *sqlStore) finish(ctx context.Context, o outbound, status string, attempts int, next time.Time, lastError string, now time.Time) error {
	if len(lastError) > 1000 {
		lastError = strings.ToValidUTF8(lastError[:1000], "") // never half a character
	}
	res, err := st.db.ExecContext(ctx, `UPDATE notification_deliveries
		SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = 0, last_error = ?, updated_at = ? WHERE id = ? AND lease_until = ?`,
		status, attempts, store.Micros(next), lastError, store.Micros(now), o.ID, o.lease)
	return leased(res, err, "record delivery "+o.ID)
}

// release ends o's lease without counting an attempt.
func (st *sqlStore) release(ctx context.Context, o outbound) error {
	res, err := st.db.ExecContext(ctx, `UPDATE notification_deliveries SET lease_until = 0 WHERE id = ? AND lease_until = ?`, o.ID, o.lease)
	return leased(res, err, "release delivery "+o.ID)
}

// errLeaseLost: a worker's lease ran out and another took the delivery
// over; the other one records it.
var errLeaseLost = errors.New("notification: delivery lease lost")

func leased(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("notification: %s: %w", op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(fmt.Errorf("notification: %s: %w", op, errLeaseLost), err)
	}
	return nil
}

func (st *sqlStore) deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, int, error) {
	where, args := `WHERE 1 = 1`, []any{}
	if f.Channel != "" {
		where += ` AND channel = ?`
		args = append(args, f.Channel)
	}
	if f.Status != "" {
		where += ` AND status = ?`
		args = append(args, f.Status)
	}
	var total int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notification_deliveries `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("notification: count deliveries: %w", err)
	}
	rows, err := st.db.QueryContext(ctx, `SELECT id, notification_id, user_id, channel, status, attempts, next_attempt_at, last_error, payload, created_at, updated_at
		FROM notification_deliveries `+where+` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("notification: list deliveries: %w", err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var d Delivery
		var next, created, updated int64
		var payload string
		if err := rows.Scan(&d.ID, &d.NotificationID, &d.UserID, &d.Channel, &d.Status, &d.Attempts, &next, &d.LastError, &payload, &created, &updated); err != nil {
			return nil, 0, fmt.Errorf("notification: list deliveries: %w", err)
		}
		var n Notification
		if json.Unmarshal([]byte(payload), &n) == nil {
			d.Title = n.Title
		}
		d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = store.FromMicros(next), store.FromMicros(created), store.FromMicros(updated)
		out = append(out, d)
	}
	return out, total, rows.Err()
}

// purgeDeliveries deletes finished deliveries created before cutoff.
func (st *sqlStore) purgeDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM notification_deliveries WHERE status <> ? AND created_at < ?`, StatusPending, store.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("notification: purge deliveries: %w", err)
	}
	return res.RowsAffected()
}
