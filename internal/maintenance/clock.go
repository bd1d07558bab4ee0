package maintenance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/timeline"
)

// maxSkipped bounds the occurrences of a recurring window recorded as
// missed in one transition (a server that ran for none of them).
const maxSkipped = 1000

// fire applies every transition due now: the alarm's work.
func (s *Service) fire(ctx context.Context) {
	now := s.now()
	ids, err := s.st.due(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "cannot read due maintenance windows", "err", err)
		}
		return
	}
	for _, id := range ids {
		if err := s.tick(ctx, id, now); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "maintenance transition failed", "maintenance", id, "err", err)
		}
	}
}

// tick applies the transition due on one window at now, through the same
// path as an admin's change: write, invalidate, signal, notify. The
// window is read and held inside the transaction and its status written
// only if unchanged, so of several instances firing at once one moves it
// and the others find nothing due.
func (s *Service) tick(ctx context.Context, id string, now time.Time) error {
	return s.apply(ctx, "maintenanceClock", func(ctx context.Context, tx *store.Tx) (change, error) {
		w, err := s.st.get(ctx, tx, id, true)
		if errors.Is(err, ErrNotFound) {
			return change{}, errNothing
		}
		if err != nil {
			return change{}, err
		}
		var ch change
		switch {
		case w.Status == Scheduled && !now.Before(w.EndAt):
			ch, err = s.complete(ctx, tx, w, w.EndAt, now, true) // missed while no server ran
		case w.Status == Scheduled && !now.Before(w.StartAt):
			ch, err = s.start(ctx, tx, w, w.periodStart(w.StartAt))
		case w.Status == InProgress && !now.Before(w.EndAt):
			ch, err = s.complete(ctx, tx, w, w.EndAt, now, false)
		default:
			return change{}, errNothing // moved by someone else meanwhile
		}
		if errors.Is(err, errLost) {
			return change{}, errNothing
		}
		if err != nil {
			return change{}, err
		}
		msg := map[string]string{ActionStarted: "Maintenance started", ActionCompleted: "Maintenance completed"}[ch.action]
		if _, err := s.st.updates.Insert(ctx, tx, id, timeline.New(msg, string(statusOf(ch)), timeline.Author{}, now)); err != nil {
			return change{}, err
		}
		return ch, nil
	})
}

// statusOf is the status a transition moved the window to, as its
// timeline says: an occurrence that completed reads "completed" even when
// the window is scheduled again for the next.
func statusOf(ch change) Status {
	if ch.next {
		return Completed
	}
	return ch.window.Status
}

// move takes a window to status to at now, for an admin: in_progress
// (start now), completed (close now) or cancelled. Anything else is a
// conflict.
func (s *Service) move(ctx context.Context, tx *store.Tx, w Window, to Status, now time.Time) (change, error) {
	switch {
	case to == InProgress && w.Status == Scheduled:
		if !now.Before(w.EndAt) {
			return change{}, rpc.Conflict("the window has ended")
		}
		// Started early: the planned times stay (a recurring window's
		// length and next occurrence come from them); StartedAt says when.
		return s.start(ctx, tx, w, now)
	case to == Completed && w.Status == InProgress:
		return s.complete(ctx, tx, w, now, now, false)
	case to == Completed && w.Status == Scheduled:
		return change{}, rpc.Conflict("the window has not started: cancel it instead")
	case to == Cancelled && w.Status.open():
		return s.cancel(ctx, tx, w, now)
	case to == Scheduled && w.Status.open():
		return change{}, rpc.Conflict("a window never goes back to scheduled")
	default:
		return change{}, rpc.Conflict(fmt.Sprintf("the window is %s", w.Status))
	}
}

// start moves a scheduled window in progress, its period beginning at at.
func (s *Service) start(ctx context.Context, tx *store.Tx, w Window, at time.Time) (change, error) {
	from := w.Status
	w.Status, w.StartedAt, w.EndedAt = InProgress, &at, nil
	w.UpdatedAt = later(s.now(), w.UpdatedAt)
	if err := s.st.save(ctx, tx, w, from); err != nil {
		return change{}, err
	}
	if err := s.st.openPeriod(ctx, tx, w.ID, at); err != nil {
		return change{}, err
	}
	return change{action: ActionStarted, window: w, systems: w.SystemIDs, notice: noticeStarted, live: true}, nil
}

// complete ends a window's occurrence at end: its period closes there (or,
// missed, is recorded whole), and a recurring window moves on to its next
// occurrence still to end at now (recording the ones missed), else the
// window is completed. A one-off window closed early ends at end.
func (s *Service) complete(ctx context.Context, tx *store.Tx, w Window, end, now time.Time, missed bool) (change, error) {
	from := w.Status
	var err error
	if missed {
		if from := w.periodStart(w.StartAt); from.Before(w.EndAt) {
			err = s.st.addPeriod(ctx, tx, w.ID, from, w.EndAt)
		}
	} else {
		err = s.st.closePeriod(ctx, tx, w.ID, end)
	}
	if err != nil {
		return change{}, err
	}
	ch := change{action: ActionCompleted, notice: noticeCompleted, live: true}
	if missed {
		ch.notice = noticeNone // it ended while no server ran: telling now is noise
	}
	sc, err := w.parsedSchedule()
	if err != nil {
		// A stored rule that no longer parses (or no longer fits) ends the
		// series rather than leave the window in progress forever.
		s.log.ErrorContext(ctx, "cannot read a window's recurrence; completing it", "maintenance", w.ID, "err", err)
		sc = nil
	}
	w.Status = Completed
	if missed {
		w.EndedAt = nil // it never went in progress
	} else {
		w.EndedAt = &end
	}
	if sc != nil {
		dur := w.EndAt.Sub(w.StartAt)
		next, ok := sc.after(w.StartAt)
		for skipped := 0; ok && !next.Add(dur).After(now) && skipped < maxSkipped; skipped++ {
			if from := w.periodStart(next); from.Before(next.Add(dur)) {
				if err := s.st.addPeriod(ctx, tx, w.ID, from, next.Add(dur)); err != nil {
					return change{}, err
				}
			}
			next, ok = sc.after(next)
		}
		if ok {
			w.Status, w.StartAt, w.EndAt = Scheduled, next, next.Add(dur)
			w.StartedAt, w.EndedAt = nil, nil
			ch.next = true
		}
	}
	w.UpdatedAt = later(s.now(), w.UpdatedAt)
	if err := s.st.save(ctx, tx, w, from); err != nil {
		return change{}, err
	}
	ch.window, ch.systems = w, w.SystemIDs
	return ch, nil
}

// cancel cancels a window; one in progress ends now.
func (s *Service) cancel(ctx context.Context, tx *store.Tx, w Window, now time.Time) (change, error) {
	from := w.Status
	if from == InProgress {
		if err := s.st.closePeriod(ctx, tx, w.ID, now); err != nil {
			return change{}, err
		}
		w.EndedAt = &now
	}
	w.Status = Cancelled
	w.UpdatedAt = later(s.now(), w.UpdatedAt)
	if err := s.st.save(ctx, tx, w, from); err != nil {
		return change{}, err
	}
	return change{action: ActionCancelled, window: w, systems: w.SystemIDs, notice: noticeCancelled, live: from == InProgress}, nil
}
