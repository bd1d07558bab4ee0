// Package clocktest gives tests a clock they move by hand, for the Now
// options of the services and for loop.Clock:
//
//	clk := clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
//	svc := slo.New(…, slo.Options{Now: clk.Now})
//	clk.Advance(time.Hour) // fires what waits on clk.At up to then
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock a test drives. It is safe for concurrent use; it moves
// only when told.
type Clock struct {
	mu      sync.Mutex
	at      time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

// New returns a clock at t.
func New(t time.Time) *Clock { return &Clock{at: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// At returns a channel that receives the clock's time once it reaches t:
// at once if it has, else when Set or Advance moves it there.
func (c *Clock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !c.at.Before(t) {
		ch <- c.at
		return ch
	}
	c.waiters = append(c.waiters, waiter{t, ch})
	return ch
}

// AtStop is At with a stop that forgets the wait (loop.StoppableClock):
// Waiting no longer counts it.
func (c *Clock) AtStop(t time.Time) (<-chan time.Time, func()) {
	ch := c.At(t)
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, w := range c.waiters {
			if w.c == ch {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				return
			}
		}
	}
}

// Waiting reports how many At channels have not fired yet (and whose
// waits were not stopped): a test can
// wait for the code under test to start waiting before it moves the
// clock.
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// WaitingFor reports whether something waits for the clock to reach t.
func (c *Clock) WaitingFor(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		if w.at.Equal(t) {
			return true
		}
	}
	return false
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = t
	c.fire()
}

// Advance moves the clock on by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
	c.fire()
	return c.at
}

// fire sends on every waiter the clock has reached. c.mu is held.
func (c *Clock) fire() {
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if c.at.Before(w.at) {
			kept = append(kept, w)
			continue
		}
		w.c <- c.at // buffered, sent once
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
}
