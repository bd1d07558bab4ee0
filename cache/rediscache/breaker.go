package rediscache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// breaker is a circuit breaker with a single background prober.
//
// Closed, every operation goes to Redis; each failure adds one to a count
// and each success resets it. When the count reaches threshold the breaker
// opens: operations fail at once with ErrUnavailable, and one goroutine
// PINGs every interval until a PING succeeds, which closes the breaker.
// Only the prober closes it, so a stray success from an operation that was
// already in flight cannot let traffic through before Redis answers a probe.
type breaker struct {
	threshold int64
	interval  time.Duration
	timeout   time.Duration
	probe     func(ctx context.Context) error

	open     atomic.Bool
	failures atomic.Int64

	mu      sync.Mutex // guards stopped and the start of the prober
	stopped bool
	ctx     context.Context // cancelled by stop; the prober's root
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newBreaker(threshold int, interval, timeout time.Duration, probe func(ctx context.Context) error) *breaker {
	ctx, cancel := context.WithCancel(context.Background())
	return &breaker{
		threshold: int64(threshold),
		interval:  interval,
		timeout:   timeout,
		probe:     probe,
		ctx:       ctx,
		cancel:    cancel,
	}
}

func (b *breaker) isOpen() bool { return b.open.Load() }

func (b *breaker) success() {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
}

func (b *breaker) failure() {
	if b.failures.Add(1) < b.threshold || b.open.Load() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || b.open.Load() {
		return
	}
	b.open.Store(true)
	b.wg.Add(1)
	go b.run()
}

// run probes until Redis answers or the breaker is stopped.
func (b *breaker) run() {
	defer b.wg.Done()
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
		err := b.probe(ctx)
		cancel()
		if err == nil {
			b.failures.Store(0)
			b.open.Store(false)
			return
		}
	}
}

// stop ends the prober, waits for it, and leaves the breaker closed for
// good. It is safe to call more than once.
func (b *breaker) stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	b.failures.Store(0)
	b.open.Store(false)
}
