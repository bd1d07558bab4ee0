package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Bus for several instances: it publishes every signal on a
// Redis pub/sub channel, and its Run relays what arrives on that channel,
// from every instance, into the local Hub.
type Redis struct {
	client  redis.UniversalClient
	channel string
	local   *Hub
	logger  *slog.Logger

	pingEvery time.Duration // relayPing, but for tests

	// onSubscribed, if set, is called each time Run's subscription is
	// confirmed by Redis. Tests use it to know when publishing reaches the
	// relay; set it before Run.
	onSubscribed func()
}

// Relay timing.
const (
	// relayPing is how long the relay waits for a message before it PINGs
	// Redis to check that the connection is alive; a PING unanswered for
	// as long again counts as a broken connection.
	relayPing = 30 * time.Second
	// The relay waits relayBackoffMin after its first failure, doubling up
	// to relayBackoffMax, before it subscribes again.
	relayBackoffMin = 100 * time.Millisecond
	relayBackoffMax = 5 * time.Second
)

// NewRedis returns a Redis bus that publishes on channel through client and
// relays into local. A nil logger discards. Give every instance of one
// deployment the same channel, and a different one to each deployment that
// shares the Redis.
func NewRedis(client redis.UniversalClient, channel string, local *Hub, logger *slog.Logger) *Redis {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Redis{
		client:    client,
		channel:   channel,
		local:     local,
		logger:    logger.With("component", "signal.redis", "channel", channel),
		pingEvery: relayPing,
	}
}

// wireEvent is an Event as published on the channel: unlike Event's own
// JSON, it carries the user ID.
type wireEvent struct {
	Signal  string          `json:"signal"`
	Payload json.RawMessage `json:"payload"`
	UserID  string          `json:"userId,omitempty"`
}

// Broadcast publishes signal for every client of every instance. It
// returns the Redis error, if any, wrapped.
func (r *Redis) Broadcast(ctx context.Context, signal string, payload any) error {
	ev, err := newEvent("broadcast", signal, "", payload, false)
	if err != nil {
		return err
	}
	return r.publish(ctx, "broadcast", ev)
}

// SendToUser publishes signal for userID's clients on every instance. It
// returns the Redis error, if any, wrapped.
func (r *Redis) SendToUser(ctx context.Context, signal string, userID string, payload any) error {
	ev, err := newEvent("send to user", signal, userID, payload, true)
	if err != nil {
		return err
	}
	return r.publish(ctx, "send to user", ev)
}

func (r *Redis) publish(ctx context.Context, op string, ev Event) error {
	b, err := json.Marshal(wireEvent{ev.Signal, ev.Payload, ev.UserID})
	if err != nil {
		return fmt.Errorf("signal: %s %q: encode: %w", op, ev.Signal, err)
	}
	if err := r.client.Publish(ctx, r.channel, b).Err(); err != nil {
		return fmt.Errorf("signal: %s %q: publish: %w", op, ev.Signal, err)
	}
	return nil
}

// Run subscribes to the channel and hands every signal that arrives to the
// local hub, until ctx ends; then it returns nil. It does not give up on
// Redis: after an error it logs it, waits (backing off from 100ms to 5s)
// and subscribes again. Run one per instance; the caller owns it.
func (r *Redis) Run(ctx context.Context) error {
	if r.channel == "" {
		return errors.New("signal: redis relay: empty channel name")
	}
	backoff := relayBackoffMin
	for {
		subscribed, err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			backoff = relayBackoffMin // it worked for a while: retry soon
		}
		r.logger.WarnContext(ctx, "relay disconnected", "error", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, relayBackoffMax)
	}
}

// session subscribes once and relays until the connection fails or ctx
// ends. It reports whether Redis confirmed the subscription.
func (r *Redis) session(ctx context.Context) (subscribed bool, err error) {
	ps := r.client.Subscribe(ctx)
	defer func() {
		_ = ps.Close() // closing twice (after ctx ended) returns an error we don't need
	}()
	// A receive does not watch ctx (only its deadline), so closing the
	// PubSub is what interrupts it when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // the deferred Close reports nothing either
	defer stop()

	if err := ps.Subscribe(ctx, r.channel); err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, r.pingEvery)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
				// Quiet for a while: check that the connection is alive.
				if err := ps.Ping(ctx); err != nil {
					return subscribed, fmt.Errorf("ping: %w", err)
				}
				pinged = true
				continue
			}
			return subscribed, fmt.Errorf("receive: %w", err)
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.channel {
				subscribed = true
				r.logger.InfoContext(ctx, "relay subscribed")
				if r.onSubscribed != nil {
					r.onSubscribed()
				}
			}
		case *redis.Message:
			r.relay(ctx, m.Payload)
		}
	}
}

// relay hands one published message to the local hub.
func (r *Redis) relay(ctx context.Context, payload string) {
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		r.logger.WarnContext(ctx, "relay skipped a malformed message", "error", err)
		return
	}
	if !validSignal(w.Signal) {
		r.logger.WarnContext(ctx, "relay skipped a malformed message", "error", ErrInvalidSignal)
		return
	}
	if len(w.Payload) == 0 || string(w.Payload) == "null" {
		w.Payload = emptyPayload
	}
	r.local.deliver(ctx, Event{Signal: w.Signal, Payload: w.Payload, UserID: w.UserID})
}
