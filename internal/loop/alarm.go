package loop

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits for an instant. Wall is the real one;
// clocktest.Clock is one tests move by hand.
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock reaches t (at
	// once when it has). Waiting for an instant rather than a duration
	// leaves no gap between reading the time and starting to wait.
	At(t time.Time) <-chan time.Time
}

// A StoppableClock can also give up a wait: stop forgets it, so a clock a
// test drives (clocktest.Clock) counts only the waits still pending, not
// those its caller left when something else woke it.
type StoppableClock interface {
	Clock
	AtStop(t time.Time) (c <-chan time.Time, stop func())
}

// waitAt is c.At(t), with the stop of a StoppableClock (else one that does
// nothing).
func waitAt(c Clock, t time.Time) (<-chan time.Time, func()) {
	if sc, ok := c.(StoppableClock); ok {
		return sc.AtStop(t)
	}
	return c.At(t), func() {}
}

// Wall is the real clock.
type Wall struct{}

func (Wall) Now() time.Time { return time.Now() }

func (Wall) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// AtStop implements StoppableClock with a timer it stops.
func (Wall) AtStop(t time.Time) (<-chan time.Time, func()) {
	tm := time.NewTimer(time.Until(t))
	return tm.C, func() { tm.Stop() }
}

var _ StoppableClock = Wall{}

// Alarm does timed work at the instant it falls due: a window that
// starts at 14:00:00 starts then, not at the next poll.
//
//	a := loop.NewAlarm(clock, store.nextDue, svc.applyDue)
//	go a.Run(ctx)
//	a.Poke() // after a change that may move the next instant
//
// Run calls Fire, then asks Next for the next instant, and waits until
// then, until Poke is called, or until Fallback passes, whichever comes
// first, and starts again. Fire does everything due at the clock's time
// and must be safe to call when nothing is; Next reads what is stored, so
// a change made anywhere (by another instance too) is seen within
// Fallback even without a Poke.
//
// Work Fire cannot do (it fails, say) leaves Next naming the same past
// instant: Run then backs off, waiting a second, then twice as long each
// time the same instant stays due, up to Fallback, rather than spin.
type Alarm struct {
	Clock Clock
	// Next is the next instant work falls due; ok false when nothing is
	// scheduled. An error is logged by OnError and waited out like a
	// Fallback.
	Next func(ctx context.Context) (at time.Time, ok bool, err error)
	// Fire does the work due now.
	Fire func(ctx context.Context)
	// Fallback bounds every wait; 30s.
	Fallback time.Duration
	// OnError is told Next's errors; nil: ignored.
	OnError func(err error)

	once sync.Once
	poke chan struct{}
}

// NewAlarm returns an Alarm ready to Run.
func NewAlarm(clock Clock, next func(ctx context.Context) (time.Time, bool, error), fire func(ctx context.Context)) *Alarm {
	return &Alarm{Clock: clock, Next: next, Fire: fire}
}

func (a *Alarm) pokes() chan struct{} {
	a.once.Do(func() { a.poke = make(chan struct{}, 1) })
	return a.poke
}

// Poke makes a running alarm look at Next again now. It never blocks.
func (a *Alarm) Poke() {
	select {
	case a.pokes() <- struct{}{}:
	default: // already poked
	}
}

// Run fires and waits, as the type's documentation says, until ctx ends.
func (a *Alarm) Run(ctx context.Context) {
	fallback := a.Fallback
	if fallback <= 0 {
		fallback = 30 * time.Second
	}
	var stuck time.Time // a past instant still due after Fire
	var backoff time.Duration
	for ctx.Err() == nil {
		a.Fire(ctx)
		now := a.Clock.Now()
		until := now.Add(fallback)
		at, ok, err := a.Next(ctx)
		switch {
		case err != nil:
			if a.OnError != nil && ctx.Err() == nil {
				a.OnError(err)
			}
		case ok && !at.After(now) && at.Equal(stuck):
			// Fire could not do what is due: back off.
			backoff = min(max(2*backoff, time.Second), fallback)
			until = now.Add(backoff)
		case ok && at.Before(until):
			until = at
		}
		if ok && !at.After(now) {
			stuck = at
		} else {
			stuck, backoff = time.Time{}, 0
		}
		due, stop := waitAt(a.Clock, until)
		select {
		case <-ctx.Done():
		case <-a.pokes():
		case <-due:
		}
		stop()
	}
}
