package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/probe"
	"github.com/checkstack/checkstack/internal/rpc"
)

// The scheduler's rules:
//
//   - each enabled configuration run here is due every interval, on a fixed
//     phase: next = previous due time + interval, so runs do not drift;
//   - a configuration whose run is still queued or running is not queued
//     again (no pile-up): that slot is skipped; a RunNow meanwhile is not
//     skipped but runs once after it;
//   - on start, a configuration whose last run is older than its interval is
//     due at once; the others keep their phase (last run + interval); one
//     never run starts within a small random delay, so many new checks
//     spread out;
//   - each pass reads the configurations again, so changes and deletions
//     take effect on the next tick without a restart.
//
// Runs go through a Queue to a pool of workers. The in-process MemoryQueue
// is the one implementation today; several instances will claim from a
// shared one.

// Job is one run to do.
type Job struct {
	Configuration Configuration
}

// Queue hands jobs from the scheduler to the workers.
type Queue interface {
	// Enqueue adds a job; ErrQueueFull if there is no room (the caller
	// skips that run).
	Enqueue(ctx context.Context, j Job) error
	// Dequeue waits for a job; it returns ctx's error when ctx ends, and
	// ErrQueueClosed once the queue is closed and empty.
	Dequeue(ctx context.Context) (Job, error)
	// Close stops Enqueue; Dequeue drains what is left. Idempotent.
	Close()
}

var (
	ErrQueueFull   = errors.New("healthcheck: queue full")
	ErrQueueClosed = errors.New("healthcheck: queue closed")
)

// MemoryQueue is an in-process, bounded Queue.
type MemoryQueue struct {
	jobs   chan Job
	mu     sync.RWMutex
	closed bool
}

var _ Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns a queue holding at most size jobs.
func NewMemoryQueue(size int) *MemoryQueue { return &MemoryQueue{jobs: make(chan Job, size)} }

func (q *MemoryQueue) Enqueue(_ context.Context, j Job) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrQueueClosed
	}
	select {
	case q.jobs <- j:
		return nil
	default:
		return ErrQueueFull
	}
}

func (q *MemoryQueue) Dequeue(ctx context.Context) (Job, error) {
	select {
	case j, ok := <-q.jobs:
		if !ok {
			return Job{}, ErrQueueClosed
		}
		return j, nil
	case <-ctx.Done():
		return Job{}, ctx.Err()
	}
}

func (q *MemoryQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
}

// SchedulerOptions configure a Scheduler. Zero values are the defaults.
type SchedulerOptions struct {
	Workers int           // concurrent runs; 16
	Tick    time.Duration // how often due configurations are looked for; 1s
	// QueueSize bounds the jobs waiting for a worker; 1024.
	QueueSize int
	// FirstRunJitter bounds the random delay before a never-run
	// configuration's first run; 5s.
	FirstRunJitter time.Duration
	// RetentionEvery is how often the retention job runs; 24h (and once
	// at start).
	RetentionEvery time.Duration
	Logger         *slog.Logger
}

// Scheduler runs the configurations that belong to this server. Start it
// once; Stop it once or more.
type Scheduler struct {
	svc   *Service
	queue Queue
	opts  SchedulerOptions
	log   *slog.Logger

	mu       sync.Mutex
	next     map[string]time.Time     // due time per configuration id
	interval map[string]time.Duration // the interval next was computed with
	busy     map[string]bool          // queued or running
	// again holds the configurations asked to run (RunNow) while a run of
	// theirs was queued or running: each runs once more after it.
	again   map[string]Configuration
	stopped bool

	jobs loop.Loop // the scheduling loop, the retention job and the workers
}

// NewScheduler returns a scheduler for svc's local configurations.
func NewScheduler(svc *Service, opts SchedulerOptions) *Scheduler {
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.FirstRunJitter <= 0 {
		opts.FirstRunJitter = 5 * time.Second
	}
	if opts.RetentionEvery <= 0 {
		opts.RetentionEvery = 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = svc.log
	}
	s := &Scheduler{
		svc:      svc,
		queue:    NewMemoryQueue(opts.QueueSize),
		opts:     opts,
		log:      opts.Logger.With("component", "scheduler"),
		next:     map[string]time.Time{},
		interval: map[string]time.Duration{},
		busy:     map[string]bool{},
		again:    map[string]Configuration{},
	}
	svc.mu.Lock()
	svc.scheduler = s
	svc.mu.Unlock()
	return s
}

// Start begins scheduling and running checks; they stop when ctx ends or
// Stop is called.
func (s *Scheduler) Start(ctx context.Context) {
	fns := []func(context.Context){
		func(ctx context.Context) {
			loop.Every(ctx, s.opts.Tick, func(ctx context.Context) { s.Tick(ctx, time.Now()) })
		},
		func(ctx context.Context) { loop.Every(ctx, s.opts.RetentionEvery, s.purge) },
	}
	for range s.opts.Workers {
		fns = append(fns, s.work)
	}
	s.jobs.Start(ctx, fns...)
}

func (s *Scheduler) purge(ctx context.Context) {
	if err := s.svc.Purge(ctx); err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "retention failed", "err", err)
	}
}

// Stop stops scheduling and waits, until ctx ends, for runs in progress;
// queued runs that have not started are dropped (they are due at once on
// the next start). Safe to call more than once.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	err := s.jobs.Stop(ctx)
	s.queue.Close()
	if err != nil {
		return fmt.Errorf("healthcheck: checks still running at shutdown: %w", err)
	}
	return nil
}

// Tick is one scheduling pass at now: it queues every due configuration.
// The loop calls it every SchedulerOptions.Tick; tests call it with the
// time they want.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) {
	configs, err := s.svc.st.configurations(ctx, "WHERE enabled = ? AND satellite_id IS NULL", true)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "cannot read configurations", "err", err)
		}
		return
	}
	var due []Configuration
	s.mu.Lock()
	seen := make(map[string]bool, len(configs))
	for _, c := range configs {
		seen[c.ID] = true
		next, ok := s.next[c.ID]
		if !ok || s.interval[c.ID] != c.Interval() {
			next = s.firstDue(c, now) // new, or its interval changed
		}
		s.interval[c.ID] = c.Interval()
		if !now.Before(next) {
			if !s.busy[c.ID] {
				due = append(due, c)
				s.busy[c.ID] = true
			}
			// Keep the phase; skip the slots that passed.
			for !now.Before(next) {
				next = next.Add(c.Interval())
			}
		}
		s.next[c.ID] = next
	}
	for id := range s.next {
		if !seen[id] {
			delete(s.next, id) // deleted, disabled or moved to a satellite
			delete(s.interval, id)
		}
	}
	s.mu.Unlock()
	for _, c := range due {
		s.enqueue(ctx, c)
	}
}

func (s *Scheduler) firstDue(c Configuration, now time.Time) time.Time {
	if c.LastRunAt != nil {
		next := c.LastRunAt.Add(c.Interval())
		if next.Before(now) {
			return now // overdue: at once
		}
		return next
	}
	return now.Add(rand.N(min(s.opts.FirstRunJitter, c.Interval())))
}

func (s *Scheduler) enqueue(ctx context.Context, c Configuration) {
	if err := s.queue.Enqueue(ctx, Job{Configuration: c}); err != nil {
		s.mu.Lock()
		delete(s.busy, c.ID)
		s.mu.Unlock()
		if !errors.Is(err, ErrQueueClosed) {
			s.log.WarnContext(ctx, "run skipped", "configuration", c.ID, "err", err)
		}
	}
}

// RunNow queues a run of a configuration at once. If one is already
// queued or running, the new run follows it (once, however many times
// RunNow is called meanwhile), so that a run asked for after a change is
// never lost to a run that began before it.
func (s *Scheduler) RunNow(ctx context.Context, configurationID string) error {
	c, err := s.svc.st.configuration(ctx, configurationID)
	if err != nil {
		return err
	}
	if c.SatelliteID != "" {
		return rpc.Conflict("this configuration runs on a satellite; it runs there on its interval")
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	if s.busy[c.ID] {
		s.again[c.ID] = c
		s.mu.Unlock()
		return nil
	}
	s.busy[c.ID] = true
	s.mu.Unlock()
	s.enqueue(ctx, c)
	return nil
}

func (s *Scheduler) work(ctx context.Context) {
	for {
		j, err := s.queue.Dequeue(ctx)
		if err != nil || ctx.Err() != nil {
			return // stopping: a job still queued is not started
		}
		r := s.svc.Execute(context.WithoutCancel(ctx), j.Configuration)
		r.Source = "local"
		// Recording outlives a shutdown that began mid-run: the run
		// happened and is kept.
		if err := s.svc.Process(context.WithoutCancel(ctx), r); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Error("cannot record run", "configuration", j.Configuration.ID, "err", err)
		}
		s.mu.Lock()
		c, again := s.again[j.Configuration.ID]
		delete(s.again, j.Configuration.ID)
		again = again && !s.stopped
		if !again {
			delete(s.busy, j.Configuration.ID)
		}
		s.mu.Unlock()
		if again {
			s.enqueue(ctx, c) // still busy: the follow-up run is queued
		}
	}
}

// Execute runs a configuration's probe once, bounded by its timeout and the
// platform's MaxTimeout, and returns the run (not yet recorded).
func (s *Service) Execute(ctx context.Context, c Configuration) Run {
	return execute(ctx, c, s.opts.MaxTimeout, s.now())
}

// execute is Execute for the server and the satellite agent alike. A probe
// that ignores its deadline is abandoned at the deadline plus a second.
func execute(ctx context.Context, c Configuration, maxTimeout time.Duration, started time.Time) Run {
	r := Run{ID: newID(), ConfigurationID: c.ID, StartedAt: started}
	strategy, ok := probe.Lookup(c.Strategy)
	if !ok {
		r.Status, r.Message, r.Details = Unhealthy, "unknown strategy "+c.Strategy, json.RawMessage("{}")
		return r
	}
	timeout := min(c.Timeout(), maxTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan probe.Result, 1)
	go func() { done <- strategy.Run(ctx, c.Config) }()
	var res probe.Result
	select {
	case res = <-done:
	case <-time.After(timeout + time.Second):
		res = probe.Result{Status: probe.Unhealthy, Latency: timeout, Message: fmt.Sprintf("timed out after %s", timeout)}
	}
	r.Status, r.LatencyMs, r.Message = Status(res.Status), ms(res.Latency), res.Message
	r.Details = json.RawMessage("{}")
	if res.Details != nil {
		if b, err := json.Marshal(res.Details); err == nil {
			r.Details = b
		}
	}
	return r
}
