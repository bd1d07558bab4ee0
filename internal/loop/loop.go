// Package loop owns background work: goroutines started together under one
// context and stopped together.
//
//	var l loop.Loop
//	l.Start(ctx, svc.sweep, svc.purge) // each in its own goroutine
//	…
//	err := l.Stop(shutdownCtx)         // cancels, waits; safe to call twice
//
// A Loop starts once. Start after Start, or after Stop, does nothing: a
// service stopped at shutdown is never started again behind its owner's
// back. Stop cancels the goroutines' context and waits for them until its
// own ctx ends; the goroutines decide how to finish the work under way
// (most finish it with context.WithoutCancel, so that a run that happened
// is recorded).
//
// Every runs a function at once and then at each tick, the shape of most
// background jobs.
package loop

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Loop is a set of goroutines with one owner. The zero value is ready to
// use; a Loop must not be copied after first use.
type Loop struct {
	mu      sync.Mutex
	cancel  context.CancelFunc
	stopped bool
	wg      sync.WaitGroup
}

// Start runs each fn in a goroutine of its own, with a context that ends
// when ctx does or Stop is called. It reports whether it started them:
// false when the loop was started or stopped before.
func (l *Loop) Start(ctx context.Context, fns ...func(ctx context.Context)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil || l.stopped {
		return false
	}
	ctx, l.cancel = context.WithCancel(ctx)
	for _, fn := range fns {
		l.wg.Go(func() { fn(ctx) })
	}
	return true
}

// Stop cancels the goroutines' context and waits for them to return, until
// ctx ends (then it returns an error wrapping ctx's; they go on finishing
// in the background). After Stop the loop never starts again. Safe to call
// more than once, and before Start.
func (l *Loop) Stop(ctx context.Context) error {
	l.mu.Lock()
	l.stopped = true
	if l.cancel != nil {
		l.cancel()
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("loop: still running: %w", ctx.Err())
	}
}

// Every calls fn at once and then every d until ctx ends. A call that
// outlasts d delays the next; ticks missed meanwhile are dropped.
func Every(ctx context.Context, d time.Duration, fn func(ctx context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
