// Package clocktest gives tests a clock they move by hand, for the Now
// options of the services:
//
//	clk := clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
//	svc := slo.New(…, slo.Options{Now: clk.Now})
//	clk.Advance(time.Hour)
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock a test drives. It is safe for concurrent use; it moves
// only when told.
type Clock struct {
	mu sync.Mutex
	at time.Time
}

// New returns a clock at t.
func New(t time.Time) *Clock { return &Clock{at: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = t
}

// Advance moves the clock on by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
	return c.at
}
