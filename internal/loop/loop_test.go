package loop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestStopCancelsAndWaitsForEveryGoroutine(t *testing.T) {
	var l Loop
	var finished atomic.Int32
	block := func(ctx context.Context) {
		<-ctx.Done()
		finished.Add(1)
	}
	if !l.Start(context.Background(), block, block, block) {
		t.Fatal("Start on a new loop did not start")
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := finished.Load(); n != 3 {
		t.Fatalf("Stop returned with %d of 3 goroutines finished", n)
	}
}

func TestAStoppedLoopNeverStartsAgain(t *testing.T) {
	var l Loop
	if err := l.Stop(context.Background()); err != nil { // before Start
		t.Fatal(err)
	}
	ran := make(chan struct{}, 1)
	if l.Start(context.Background(), func(context.Context) { ran <- struct{}{} }) {
		t.Fatal("Start after Stop started")
	}
	if err := l.Stop(context.Background()); err != nil { // twice
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Fatal("a function ran after Stop")
	default:
	}
}

func TestStartTwiceStartsOnce(t *testing.T) {
	var l Loop
	var runs atomic.Int32
	fn := func(ctx context.Context) { runs.Add(1); <-ctx.Done() }
	l.Start(context.Background(), fn)
	if l.Start(context.Background(), fn) {
		t.Fatal("the second Start started")
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}

func TestStopGivesUpWhenItsContextEnds(t *testing.T) {
	var l Loop
	release := make(chan struct{})
	l.Start(context.Background(), func(context.Context) { <-release }) // ignores cancellation
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want context.Canceled", err)
	}
	close(release)
	if err := l.Stop(context.Background()); err != nil {
		t.Fatalf("the second Stop, once the work finished: %v", err)
	}
}

func TestTheParentContextEndsTheGoroutines(t *testing.T) {
	var l Loop
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.Start(ctx, func(ctx context.Context) { <-ctx.Done(); close(done) })
	cancel()
	<-done
}

func TestEveryRunsAtOnceAndUntilTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	Every(ctx, time.Millisecond, func(context.Context) {
		calls++
		if calls == 3 {
			cancel()
		}
	})
	if calls != 3 {
		t.Fatalf("Every made %d calls after cancelling on the third", calls)
	}
}
