package notification

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/delivery"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

// External channels. An admin configures each; each user opts in to each.
const (
	ChannelWebhook = "webhook" // one endpoint for every opted-in user, signed JSON
	ChannelEmail   = "email"   // to the user's own address, over SMTP
)

// Channels lists the channels in the order they are shown.
var Channels = []string{ChannelWebhook, ChannelEmail}

func knownChannel(c string) bool { return c == ChannelWebhook || c == ChannelEmail }

// ChannelView is a channel's configuration as an admin reads it: secrets
// are never shown, only whether one is set.
type ChannelView struct {
	Channel    string         `json:"channel"`
	Enabled    bool           `json:"enabled"`
	Configured bool           `json:"configured"`
	Webhook    *WebhookView   `json:"webhook,omitempty"`
	Email      *EmailView     `json:"email,omitempty"`
	UpdatedAt  *time.Time     `json:"updatedAt,omitempty"`
	raw        channelSetting // what is stored
}

// WebhookView is the webhook channel's configuration without its secret.
type WebhookView struct {
	URL       string `json:"url"`
	HasSecret bool   `json:"hasSecret"`
}

// EmailView is the email channel's configuration without its password.
type EmailView struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Username    string `json:"username,omitempty"`
	HasPassword bool   `json:"hasPassword"`
	From        string `json:"from"`
	Security    string `json:"security"`
}

// channelSetting is a channel's row: which config applies depends on the
// channel.
type channelSetting struct {
	Enabled bool
	Webhook delivery.WebhookConfig
	Email   delivery.EmailConfig
}

// ChannelInput configures one channel. Config is the channel's own
// configuration as JSON (delivery.WebhookConfig or delivery.EmailConfig);
// an empty secret or password keeps the one stored.
type ChannelInput struct {
	Channel string
	Enabled bool
	Config  json.RawMessage
}

// Preference is a user's opt-in to a channel. Available says whether the
// channel is configured and enabled, so that opting in delivers anything.
type Preference struct {
	Channel   string `json:"channel"`
	Available bool   `json:"available"`
	Enabled   bool   `json:"enabled"`
}

// Delivery is one entry of the delivery log.
type Delivery struct {
	ID             string    `json:"id"`
	NotificationID string    `json:"notificationId"`
	UserID         string    `json:"userId"`
	Channel        string    `json:"channel"`
	Status         string    `json:"status"` // pending, delivered, failed or skipped
	Attempts       int       `json:"attempts"`
	NextAttemptAt  time.Time `json:"nextAttemptAt"`
	LastError      string    `json:"lastError,omitempty"`
	Title          string    `json:"title"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"  // gave up: a permanent error, or out of attempts
	StatusSkipped   = "skipped" // not sent: channel off, user opted out or without an address
)

// DeliveryFilter selects a page of the delivery log.
type DeliveryFilter struct {
	Channel string // "" = all
	Status  string // "" = all
	Limit   int
	Offset  int
}

// ChannelsConfig lists every channel's configuration.
func (s *Service) ChannelsConfig(ctx context.Context) ([]ChannelView, error) {
	out := make([]ChannelView, 0, len(Channels))
	for _, c := range Channels {
		v, err := s.st.channel(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ConfigureChannel sets a channel's configuration. The config is validated
// first; a bad one changes nothing.
func (s *Service) ConfigureChannel(ctx context.Context, in ChannelInput) (ChannelView, error) {
	cur, err := s.st.channel(ctx, in.Channel)
	if err != nil {
		return ChannelView{}, err
	}
	set := cur.raw
	set.Enabled = in.Enabled
	switch in.Channel {
	case ChannelWebhook:
		c, err := decodeConfig[delivery.WebhookConfig](in.Config)
		if err != nil {
			return ChannelView{}, err
		}
		if c.Secret == "" {
			c.Secret = set.Webhook.Secret
		}
		if err := c.Validate(); err != nil {
			return ChannelView{}, err
		}
		set.Webhook = c
	case ChannelEmail:
		c, err := decodeConfig[delivery.EmailConfig](in.Config)
		if err != nil {
			return ChannelView{}, err
		}
		if c.Password == "" && c.Username != "" && c.Username == set.Email.Username {
			c.Password = set.Email.Password
		}
		if err := c.Validate(); err != nil {
			return ChannelView{}, err
		}
		set.Email = c
	default:
		return ChannelView{}, rpc.Invalid("channel", fmt.Sprintf("must be one of %v", Channels))
	}
	if err := s.st.setChannel(ctx, in.Channel, set, s.now()); err != nil {
		return ChannelView{}, err
	}
	s.deliverer.wake()
	return s.st.channel(ctx, in.Channel)
}

// decodeConfig decodes a channel's config strictly, naming the field
// under "config." in its errors. It does not validate: the caller fills
// in the stored secret first.
func decodeConfig[T any](raw json.RawMessage) (T, error) {
	c, err := rpc.DecodeStrict[T](raw)
	var e *rpc.Error
	if errors.As(err, &e) {
		if field, reason, ok := strings.Cut(e.Message, ": "); ok && field != "body" {
			return c, rpc.Invalid("config."+field, reason)
		}
		return c, rpc.Invalid("config", "must be a JSON object")
	}
	return c, err
}

// Preferences lists the user's opt-in to each channel.
func (s *Service) Preferences(ctx context.Context, userID string) ([]Preference, error) {
	prefs, err := s.st.preferences(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Preference, 0, len(Channels))
	for _, c := range Channels {
		v, err := s.st.channel(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, Preference{Channel: c, Available: v.Configured && v.Enabled, Enabled: prefs[c]})
	}
	return out, nil
}

// SetPreference opts the user in to a channel, or out of it.
func (s *Service) SetPreference(ctx context.Context, userID, channel string, enabled bool) error {
	if !knownChannel(channel) {
		return rpc.Invalid("channel", fmt.Sprintf("must be one of %v", Channels))
	}
	return s.st.setPreference(ctx, userID, channel, enabled, s.now())
}

// Deliveries returns a page of the delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, int, error) {
	return s.st.deliveries(ctx, f)
}

// deliveriesFor makes the deliveries of new notifications: one per
// notification and channel that is enabled and that its user opted into.
func (s *Service) deliveriesFor(ctx context.Context, ns []Notification, now time.Time) ([]outbound, error) {
	var enabled []string
	for _, c := range Channels {
		v, err := s.st.channel(ctx, c)
		if err != nil {
			return nil, err
		}
		if v.Configured && v.Enabled {
			enabled = append(enabled, c)
		}
	}
	if len(enabled) == 0 {
		return nil, nil
	}
	users := make([]string, len(ns))
	for i, n := range ns {
		users[i] = n.UserID
	}
	optedIn, err := s.st.optedIn(ctx, users, enabled)
	if err != nil {
		return nil, err
	}
	var out []outbound
	for _, n := range ns {
		for _, c := range optedIn[n.UserID] {
			payload, err := json.Marshal(n)
			if err != nil {
				return nil, fmt.Errorf("notification: encode delivery: %w", err)
			}
			out = append(out, outbound{ID: newID(), NotificationID: n.ID, UserID: n.UserID, Channel: c,
				Payload: payload, CreatedAt: now})
		}
	}
	return out, nil
}

// Store: channels, preferences, deliveries.

func (st *sqlStore) channel(ctx context.Context, channel string) (ChannelView, error) {
	v := ChannelView{Channel: channel}
	var raw string
	var updated int64
	err := st.db.QueryRowContext(ctx, `SELECT enabled, config, updated_at FROM notification_channels WHERE channel = ?`, channel).
		Scan(&v.Enabled, &raw, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("notification: channel %s: %w", channel, err)
	}
	v.Configured = true
	t := store.FromMicros(updated)
	v.UpdatedAt = &t
	v.raw.Enabled = v.Enabled
	switch channel {
	case ChannelWebhook:
		if err := json.Unmarshal([]byte(raw), &v.raw.Webhook); err != nil {
			return v, fmt.Errorf("notification: channel %s: %w", channel, err)
		}
		v.Webhook = &WebhookView{URL: v.raw.Webhook.URL, HasSecret: v.raw.Webhook.Secret != ""}
	case ChannelEmail:
		if err := json.Unmarshal([]byte(raw), &v.raw.Email); err != nil {
			return v, fmt.Errorf("notification: channel %s: %w", channel, err)
		}
		e := v.raw.Email
		v.Email = &EmailView{Host: e.Host, Port: e.Port, Username: e.Username, HasPassword: e.Password != "", From: e.From, Security: e.Security}
	}
	return v, nil
}

func (st *sqlStore) setChannel(ctx context.Context, channel string, set channelSetting, now time.Time) error {
	var cfg any = set.Webhook
	if channel == ChannelEmail {
		cfg = set.Email
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("notification: encode channel %s: %w", channel, err)
	}
	_, err = st.db.ExecContext(ctx, `INSERT INTO notification_channels (channel, enabled, config, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (channel) DO UPDATE SET enabled = excluded.enabled, config = excluded.config, updated_at = excluded.updated_at`,
		channel, set.Enabled, string(raw), store.Micros(now))
	if err != nil {
		return fmt.Errorf("notification: configure channel %s: %w", channel, err)
	}
	return nil
}

func (st *sqlStore) preferences(ctx context.Context, userID string) (map[string]bool, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT channel, enabled FROM notification_channel_prefs WHERE user_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("notification: preferences of %s: %w", userID, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c string
		var on bool
		if err := rows.Scan(&c, &on); err != nil {
			return nil, fmt.Errorf("notification: preferences of %s: %w", userID, err)
		}
		out[c] = on
	}
	return out, rows.Err()
}

func (st *sqlStore) setPreference(ctx context.Context, userID, channel string, enabled bool, now time.Time) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO notification_channel_prefs (user_id, channel, enabled, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, channel) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
		userID, channel, enabled, store.Micros(now))
	if err != nil {
		return fmt.Errorf("notification: set preference of %s: %w", userID, err)
	}
	return nil
}

// optedIn returns, for each of users, the channels among channels they
// opted into.
func (st *sqlStore) optedIn(ctx context.Context, users, channels []string) (map[string][]string, error) {
	out := map[string][]string{}
	for start := 0; start < len(users); start += store.ChunkSize {
		ids := users[start:min(start+store.ChunkSize, len(users))]
		args := append(store.Args(ids), store.Args(channels)...)
		rows, err := st.db.QueryContext(ctx, `SELECT user_id, channel FROM notification_channel_prefs
			WHERE enabled = TRUE AND user_id IN (`+store.Placeholders(len(ids))+`) AND channel IN (`+store.Placeholders(len(channels))+`)
			ORDER BY user_id, channel`, args...)
		if err != nil {
			return nil, fmt.Errorf("notification: opted-in users: %w", err)
		}
		for rows.Next() {
			var u, c string
			if err := rows.Scan(&u, &c); err != nil {
				rows.Close()
				return nil, fmt.Errorf("notification: opted-in users: %w", err)
			}
			out[u] = append(out[u], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
