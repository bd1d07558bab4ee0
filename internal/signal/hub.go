package signal

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// HubOptions configure a Hub. The zero value is ready to use.
type HubOptions struct {
	// Buffer is how many events each subscription holds for its reader.
	// A subscription whose buffer is full when an event arrives is dropped
	// (its Events channel is closed), never waited for. 0 or less means 64.
	Buffer int
	// Heartbeat is how often Handler writes a ": ping" comment on an idle
	// or busy stream. 0 or less means 15s.
	Heartbeat time.Duration
	// WriteTimeout bounds each write Handler makes to a client; a client
	// that does not take a write within it is disconnected. 0 or less
	// means 10s.
	WriteTimeout time.Duration
	// Logger receives drops and stream errors. nil discards them.
	Logger *slog.Logger
	// Public names the broadcasts a public subscription (a visitor of the
	// public status page) receives, as that signal with an empty payload:
	// it learns what to refetch, nothing of what changed. nil: none.
	Public func(signal string) bool
}

const (
	defaultBuffer       = 64
	defaultHeartbeat    = 15 * time.Second
	defaultWriteTimeout = 10 * time.Second
)

// Hub is the in-process Bus: it delivers each signal to the subscriptions
// of this process that should see it. It is safe for concurrent use. See
// the package documentation for the invariants it keeps.
type Hub struct {
	buffer       int
	heartbeat    time.Duration
	writeTimeout time.Duration
	logger       *slog.Logger
	public       func(signal string) bool
	publicSeq    atomic.Uint64 // public broadcasts delivered; see PublicSeq

	// mu guards the fields below, and every send on and close of a
	// subscription's channel: a channel is closed only by whoever removes
	// it from all, under mu, so no send ever meets a closed channel.
	mu     sync.Mutex
	closed bool
	all    map[*Subscription]struct{}
	users  map[string]map[*Subscription]struct{} // the signed-in subset of all, by user
}

// NewHub returns a Hub with opts.
func NewHub(opts HubOptions) *Hub {
	h := &Hub{
		buffer:       opts.Buffer,
		heartbeat:    opts.Heartbeat,
		writeTimeout: opts.WriteTimeout,
		logger:       opts.Logger,
		public:       opts.Public,
		all:          make(map[*Subscription]struct{}),
		users:        make(map[string]map[*Subscription]struct{}),
	}
	if h.buffer <= 0 {
		h.buffer = defaultBuffer
	}
	if h.heartbeat <= 0 {
		h.heartbeat = defaultHeartbeat
	}
	if h.writeTimeout <= 0 {
		h.writeTimeout = defaultWriteTimeout
	}
	if h.logger == nil {
		h.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h.logger = h.logger.With("component", "signal")
	return h
}

// Broadcast sends signal to every subscription. It encodes payload once and
// never waits for a subscriber (invariant 1). After Close it does nothing
// and returns nil.
func (h *Hub) Broadcast(ctx context.Context, signal string, payload any) error {
	if h.isClosed() {
		return nil
	}
	ev, err := newEvent("broadcast", signal, "", payload, false)
	if err != nil {
		return err
	}
	h.deliver(ctx, ev)
	return nil
}

// SendToUser sends signal to the subscriptions of userID only. It encodes
// payload once and never waits for a subscriber (invariant 1). After Close
// it does nothing and returns nil.
func (h *Hub) SendToUser(ctx context.Context, signal string, userID string, payload any) error {
	if h.isClosed() {
		return nil
	}
	ev, err := newEvent("send to user", signal, userID, payload, true)
	if err != nil {
		return err
	}
	h.deliver(ctx, ev)
	return nil
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// deliver offers ev to the subscriptions it is for: to all of them when
// ev.UserID is "", else to that user's. ev.Payload must be valid JSON.
func (h *Hub) deliver(ctx context.Context, ev Event) {
	ev.frame = encodeFrame(ev)
	var public *Event // what public subscriptions get of a broadcast, if any
	if ev.UserID == "" && h.public != nil && h.public(ev.Signal) {
		p := Event{Signal: ev.Signal, Payload: emptyPayload}
		p.frame = encodeFrame(p)
		public = &p
		h.publicSeq.Add(1) // before any subscriber can see it
	}

	var dropped []*Subscription // allocated only when someone falls behind
	h.mu.Lock()
	if !h.closed {
		targets := h.all
		if ev.UserID != "" {
			targets = h.users[ev.UserID]
		}
		for s := range targets {
			e := ev
			if s.public {
				if public == nil {
					continue
				}
				e = *public
			}
			select {
			case s.events <- e:
			default:
				// Full: the reader is behind. Drop it rather than wait
				// (invariant 1); deleting during range is safe.
				s.dropped.Store(true)
				h.remove(s)
				close(s.events)
				dropped = append(dropped, s)
			}
		}
	}
	h.mu.Unlock()

	for _, s := range dropped {
		h.logger.WarnContext(ctx, "subscriber dropped",
			"signal", ev.Signal, "user_id", s.userID, "buffer", h.buffer)
	}
}

// PublicSeq counts the public broadcasts this hub has delivered. The count
// grows before any subscription receives the signal, so whoever was told
// of a public signal and then reads PublicSeq sees a count larger than
// any read before it: something rendered at an older count is stale.
func (h *Hub) PublicSeq() uint64 { return h.publicSeq.Load() }

// remove takes s out of the hub's maps. h.mu must be held.
func (h *Hub) remove(s *Subscription) {
	delete(h.all, s)
	if s.userID == "" {
		return
	}
	byUser := h.users[s.userID]
	delete(byUser, s)
	if len(byUser) == 0 {
		delete(h.users, s.userID)
	}
}

// Subscribe starts a subscription for userID ("" for an anonymous client,
// which gets broadcasts only). It receives every event sent after Subscribe
// returns that is meant for it. After Close it returns a subscription that
// has already ended. The caller must Close it when done.
func (h *Hub) Subscribe(userID string) *Subscription { return h.subscribe(userID, false) }

// SubscribePublic starts a public subscription: a visitor of the public
// status page, who receives only the broadcasts HubOptions.Public names,
// each with an empty payload.
func (h *Hub) SubscribePublic() *Subscription { return h.subscribe("", true) }

func (h *Hub) subscribe(userID string, public bool) *Subscription {
	s := &Subscription{
		hub:    h,
		userID: userID,
		public: public,
		events: make(chan Event, h.buffer),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.events)
		return s
	}
	h.all[s] = struct{}{}
	if userID != "" {
		byUser := h.users[userID]
		if byUser == nil {
			byUser = make(map[*Subscription]struct{})
			h.users[userID] = byUser
		}
		byUser[s] = struct{}{}
	}
	return s
}

// Subscribers returns the number of subscriptions that have not ended.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.all)
}

// Close ends every subscription, so that every stream Handler serves ends
// too; later subscriptions are born ended, and later sends do nothing.
// Close is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.all {
		close(s.events)
	}
	clear(h.all)
	clear(h.users)
}

// Subscription is one subscriber's view of a Hub. It is safe for
// concurrent use.
type Subscription struct {
	hub     *Hub
	userID  string
	public  bool
	events  chan Event
	dropped atomic.Bool // set, under hub.mu, before events is closed
}

// Events returns the channel the subscription's events arrive on. It is
// closed when the subscription ends: when it falls behind (see Dropped),
// when Close is called, or when the hub is closed. Events already buffered
// are still received before the channel reads as closed.
func (s *Subscription) Events() <-chan Event { return s.events }

// Dropped reports whether the subscription ended because its buffer was
// full: its reader may have missed events.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Close ends the subscription. It is idempotent, and does nothing to a
// subscription that has already ended.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.all[s]; !ok {
		return // already ended: dropped, closed, or the hub closed
	}
	h.remove(s)
	close(s.events)
}
