package loop

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/clocktest"
)

// schedule is a list of instants an Alarm works through, as a store of
// due transitions would.
type schedule struct {
	mu    sync.Mutex
	clock *clocktest.Clock
	due   []time.Time
	fired chan time.Time
}

func (s *schedule) next(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.due) == 0 {
		return time.Time{}, false, nil
	}
	return s.due[0], true, nil
}

func (s *schedule) fire(context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for len(s.due) > 0 && !now.Before(s.due[0]) {
		s.fired <- s.due[0]
		s.due = s.due[1:]
	}
}

func (s *schedule) add(t time.Time) {
	s.mu.Lock()
	s.due = append(s.due, t)
	s.mu.Unlock()
}

// waitUntilWaiting waits for the alarm to wait on the clock.
func waitUntilWaiting(t *testing.T, c *clocktest.Clock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the alarm never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

func expect(t *testing.T, fired <-chan time.Time, want time.Time) {
	t.Helper()
	select {
	case got := <-fired:
		if !got.Equal(want) {
			t.Fatalf("fired %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%v never fired", want)
	}
}

func TestAnAlarmFiresAtEachInstantAndOnlyThen(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	s := &schedule{clock: clk, fired: make(chan time.Time, 10), due: []time.Time{t0.Add(time.Second), t0.Add(5 * time.Second)}}
	a := NewAlarm(clk, s.next, s.fire)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitUntilWaiting(t, clk)
	clk.Advance(999 * time.Millisecond)
	select {
	case got := <-s.fired:
		t.Fatalf("fired %v a millisecond early", got)
	default:
	}
	clk.Advance(time.Millisecond)
	expect(t, s.fired, t0.Add(time.Second))
	clk.Advance(4 * time.Second)
	expect(t, s.fired, t0.Add(5*time.Second))
}

func TestAPokedAlarmSeesAnInstantAddedSooner(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	s := &schedule{clock: clk, fired: make(chan time.Time, 10)}
	a := NewAlarm(clk, s.next, s.fire)
	a.Fallback = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitUntilWaiting(t, clk) // nothing due: waiting out the fallback
	s.add(t0.Add(2 * time.Second))
	a.Poke()
	// The poked alarm waits for the new instant (and gave up its wait for
	// the fallback).
	deadline := time.Now().Add(10 * time.Second)
	for !clk.WaitingFor(t0.Add(2 * time.Second)) {
		if time.Now().After(deadline) {
			t.Fatal("the poked alarm did not wait for the new instant")
		}
		time.Sleep(time.Millisecond)
	}
	clk.Advance(2 * time.Second)
	expect(t, s.fired, t0.Add(2*time.Second))
}

func TestAnUnpokedAlarmFindsNewWorkByItsFallback(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	s := &schedule{clock: clk, fired: make(chan time.Time, 10)}
	a := NewAlarm(clk, s.next, s.fire)
	a.Fallback = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitUntilWaiting(t, clk)
	s.add(t0.Add(10 * time.Second)) // as another instance would: no poke here
	clk.Advance(time.Minute)        // the fallback wakes it: 10 s is past by then
	expect(t, s.fired, t0.Add(10*time.Second))
}

func TestAnAlarmWhoseWorkFailsBacksOffInsteadOfSpinning(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	var mu sync.Mutex
	fires := 0
	stuck := t0.Add(-time.Minute) // due, and Fire never clears it
	a := NewAlarm(clk, func(context.Context) (time.Time, bool, error) { return stuck, true, nil },
		func(context.Context) { mu.Lock(); fires++; mu.Unlock() })
	a.Fallback = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	count := func() int { mu.Lock(); defer mu.Unlock(); return fires }
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		deadline := time.Now().Add(10 * time.Second)
		for !clk.WaitingFor(clk.Now().Add(wait)) {
			if time.Now().After(deadline) {
				t.Fatalf("after %d fires the alarm does not wait %v (it spins or waits otherwise)", count(), wait)
			}
			time.Sleep(time.Millisecond)
		}
		before := count()
		clk.Advance(wait)
		deadline = time.Now().Add(10 * time.Second)
		for count() == before {
			if time.Now().After(deadline) {
				t.Fatal("the alarm did not try again after its back-off")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if n := count(); n != 5 {
		t.Fatalf("%d fires: want the first, its immediate retry, and one after each of three back-offs", n)
	}
}

func TestAZeroAlarmStillHearsPokes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	s := &schedule{clock: clk, fired: make(chan time.Time, 10)}
	a := &Alarm{Clock: clk, Next: s.next, Fire: s.fire, Fallback: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitUntilWaiting(t, clk)
	s.add(t0.Add(time.Second))
	a.Poke()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.WaitingFor(t0.Add(time.Second)) {
		if time.Now().After(deadline) {
			t.Fatal("a poke of an Alarm built without NewAlarm was lost")
		}
		time.Sleep(time.Millisecond)
	}
}

// An alarm woken by a poke gives up its wait on the clock: a test clock
// then counts one pending wait per alarm, never the ones left behind, so
// that "every alarm waits again" means what it says.
func TestAPokedAlarmLeavesNoWaitBehind(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	fires := make(chan struct{}, 10)
	a := NewAlarm(clk, func(context.Context) (time.Time, bool, error) { return time.Time{}, false, nil },
		func(context.Context) { fires <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-fires
	waitUntilWaiting(t, clk)
	for range 3 {
		a.Poke()
		<-fires
		waitUntilWaiting(t, clk)
	}
	if n := clk.Waiting(); n != 1 {
		t.Fatalf("after three pokes the clock counts %d waits, want the alarm's one", n)
	}
}
