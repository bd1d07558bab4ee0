package announcement

import (
	"context"
	"sync"
	"time"

	"github.com/checkstack/checkstack/internal/mutate"
)

// retryAfter is how soon the clock tries a failed pass again.
const retryAfter = time.Second

// fire is the alarm's work: one pass over the boundaries that passed
// since the last one.
func (s *Service) fire(ctx context.Context) {
	now := s.now()
	err := s.pass(ctx, now)
	s.failed = err != nil
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "announcement clock pass failed", "err", err)
		}
		return
	}
	s.through = now
}

// pass drops every caller's entries if a boundary passed since the last
// pass here, and claims and announces those that passed since the
// fleet's mark: write (the claim) → invalidate → signal, as any change.
func (s *Service) pass(ctx context.Context, now time.Time) error {
	mark, err := s.st.firedThrough(ctx)
	if err != nil {
		return err
	}
	from := s.through
	if mark.Before(from) {
		from = mark
	}
	bs, err := s.st.passed(ctx, s.st.clock, from, now)
	if err != nil {
		return err
	}
	local, due := false, false
	for _, b := range bs {
		local = local || in(b.startsAt, s.through, now) || in(b.expiresAt, s.through, now)
		due = due || in(b.startsAt, mark, now) || in(b.expiresAt, mark, now)
	}
	if !local && !due {
		return nil
	}
	var events []Payload
	return mutate.Do(ctx, s.log, "announcementClock",
		func(ctx context.Context) error {
			if !due {
				return nil
			}
			claimed, won, err := s.st.claim(ctx, now)
			if won {
				events = announce(claimed, now)
			}
			return err
		},
		s.dropActive, // on every instance, whoever claimed
		func(ctx context.Context) {
			for _, p := range events {
				if err := s.bus.Broadcast(ctx, SignalUpdated, p); err != nil {
					s.log.WarnContext(ctx, "signal failed", "signal", SignalUpdated, "err", err)
				}
			}
		})
}

// announce turns the boundaries a claim covered into signals: "expired"
// for one whose expiresAt passed, else "started". A boundary the
// announcement was last written at or after is left out: that change's
// own signal told clients already.
func announce(bs []boundary, now time.Time) []Payload {
	var out []Payload
	for _, b := range bs {
		switch {
		case b.expiresAt != nil && !b.expiresAt.After(now) && b.updatedAt.Before(*b.expiresAt):
			out = append(out, Payload{AnnouncementID: b.id, Action: ActionExpired})
		case b.startsAt != nil && !b.startsAt.After(now) && b.updatedAt.Before(*b.startsAt):
			out = append(out, Payload{AnnouncementID: b.id, Action: ActionStarted})
		}
	}
	return out
}

// nextDue is the alarm's Next: the first boundary after its last pass.
// It also tells the horizon.
func (s *Service) nextDue(ctx context.Context) (time.Time, bool, error) {
	at, err := s.st.nextAfter(ctx, s.through)
	if err != nil {
		return time.Time{}, false, err
	}
	now := s.now()
	if at.IsZero() || at.After(now) {
		s.hz.offer(at, now)
	}
	if s.failed && !at.IsZero() && !at.After(now) {
		at = now.Add(retryAfter) // not at once: the pass that failed would spin
	}
	return at, !at.IsZero(), nil
}

// horizon is the next boundary this process knows of: the earliest
// startsAt or expiresAt after now among active announcements, or none.
//
// Its one rule: it only moves earlier, unless it has passed (or is
// unknown). A reading of the database that began before a change
// committed may come back after that change's own reading; this way it
// cannot hide it.
type horizon struct {
	mu    sync.Mutex
	known bool
	at    time.Time // zero: no boundary to come
}

// valid reports whether the horizon may be used at now. h.mu is held.
func (h *horizon) valid(now time.Time) bool {
	return h.known && (h.at.IsZero() || h.at.After(now))
}

// get returns the horizon (zero: none) if it is known and still to come.
func (h *horizon) get(now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.valid(now) {
		return time.Time{}, false
	}
	return h.at, true
}

// offer tells the horizon that at (zero: none) was the first boundary
// after now when the database was read.
func (h *horizon) offer(at, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !h.valid(now):
		h.known, h.at = true, at
	case !at.IsZero() && (h.at.IsZero() || at.Before(h.at)):
		h.at = at
	}
}

// forget makes the horizon unknown: the next read reads it.
func (h *horizon) forget() {
	h.mu.Lock()
	h.known = false
	h.mu.Unlock()
}

// before reports whether the horizon may lie before t: it is unknown, or
// it is a boundary before t.
func (h *horizon) before(t time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.known || (!h.at.IsZero() && h.at.Before(t))
}
