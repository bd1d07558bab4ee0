package healthcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AgentOptions configure a satellite Agent. Zero values are the defaults.
type AgentOptions struct {
	Server string // the server's base URL, e.g. https://status.example.com (required)
	Key    string // the satellite's key (required)
	// HTTPClient talks to the server; a client with a 15s timeout.
	HTTPClient *http.Client
	// RefreshEvery is how often assignments are fetched again; 30s.
	RefreshEvery time.Duration
	// FlushEvery is how often buffered results are posted; 2s.
	FlushEvery time.Duration
	// BufferSize bounds the results kept while the server is unreachable;
	// 10,000. When full, the oldest are dropped (and logged).
	BufferSize int
	// Workers bounds the checks running at once; 16.
	Workers int
	// MaxTimeout bounds every run; 60s.
	MaxTimeout time.Duration
	Logger     *slog.Logger
}

// Agent runs a satellite: the configurations the server assigns to it, on
// their intervals, with the same strategies as the server, posting the
// results. Results wait in a bounded buffer while the server is
// unreachable and are posted, oldest first, when it answers again; the
// server ignores a result it already has, so a batch whose answer was lost
// is simply posted again.
type Agent struct {
	opts AgentOptions
	log  *slog.Logger

	mu       sync.Mutex
	configs  map[string]Configuration
	next     map[string]time.Time
	interval map[string]time.Duration // the interval next was computed with
	busy     map[string]bool
	buffer   []Run
	dropped  int // results dropped from the front of buffer, ever

	flushNow chan struct{}
	slots    chan struct{}
	running  sync.WaitGroup
}

// NewAgent returns an agent; Run starts it.
func NewAgent(opts AgentOptions) *Agent {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 30 * time.Second
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 2 * time.Second
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 10_000
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Server = strings.TrimRight(opts.Server, "/")
	return &Agent{
		opts:     opts,
		log:      opts.Logger.With("component", "satellite"),
		configs:  map[string]Configuration{},
		next:     map[string]time.Time{},
		interval: map[string]time.Duration{},
		busy:     map[string]bool{},
		flushNow: make(chan struct{}, 1),
		slots:    make(chan struct{}, opts.Workers),
	}
}

// Run works until ctx ends, then waits for the checks running, and tries
// once more (for a few seconds) to post what is buffered.
func (a *Agent) Run(ctx context.Context) error {
	if a.opts.Server == "" || a.opts.Key == "" {
		return errors.New("satellite: a server URL and a key are required")
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	refresh := time.NewTicker(a.opts.RefreshEvery)
	defer refresh.Stop()
	flush := time.NewTicker(a.opts.FlushEvery)
	defer flush.Stop()
	backoff := time.Duration(0)
	var retryAt time.Time

	a.refresh(ctx)
	a.tick(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			a.running.Wait()
			final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a.flush(final)
			if n := a.buffered(); n > 0 {
				a.log.Warn("results not delivered at shutdown", "runs", n)
			}
			return nil
		case now := <-tick.C:
			a.tick(ctx, now)
		case <-refresh.C:
			a.refresh(ctx)
		case <-flush.C:
		case <-a.flushNow:
		}
		if time.Now().Before(retryAt) {
			continue
		}
		if err := a.flush(ctx); err != nil {
			backoff = min(max(2*backoff, time.Second), time.Minute)
			retryAt = time.Now().Add(backoff)
			a.log.Warn("server unreachable; results buffered", "err", err, "buffered", a.buffered(), "retry_in", backoff)
		} else {
			backoff, retryAt = 0, time.Time{}
		}
	}
}

func (a *Agent) buffered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.buffer)
}

// refresh fetches the assignments; on failure the previous ones stay.
func (a *Agent) refresh(ctx context.Context) {
	var out struct {
		Configurations []Configuration `json:"configurations"`
	}
	if err := a.call(ctx, "satellite/getAssignments", struct{}{}, &out); err != nil {
		a.log.Warn("cannot fetch assignments; keeping the previous ones", "err", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.configs = make(map[string]Configuration, len(out.Configurations))
	for _, c := range out.Configurations {
		a.configs[c.ID] = c
	}
	for id := range a.next {
		if _, ok := a.configs[id]; !ok {
			delete(a.next, id)
		}
	}
}

// tick starts every due check, keeping each one's phase and never running
// one twice at once.
func (a *Agent) tick(ctx context.Context, now time.Time) {
	a.mu.Lock()
	var due []Configuration
	for id, c := range a.configs {
		next, ok := a.next[id]
		if !ok || a.interval[id] != c.Interval() {
			a.interval[id] = c.Interval()
			next = now
			if c.LastRunAt != nil && c.LastRunAt.Add(c.Interval()).After(now) {
				next = c.LastRunAt.Add(c.Interval())
			}
		}
		if !now.Before(next) {
			if !a.busy[id] {
				a.busy[id] = true
				due = append(due, c)
			}
			for !now.Before(next) {
				next = next.Add(c.Interval())
			}
		}
		a.next[id] = next
	}
	a.mu.Unlock()
	for _, c := range due {
		a.running.Add(1)
		go func() {
			defer a.running.Done()
			select {
			case a.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			r := execute(context.WithoutCancel(ctx), c, a.opts.MaxTimeout, time.Now().UTC().Truncate(time.Microsecond))
			<-a.slots
			a.mu.Lock()
			delete(a.busy, c.ID)
			a.buffer = append(a.buffer, r)
			if over := len(a.buffer) - a.opts.BufferSize; over > 0 {
				a.buffer = a.buffer[over:]
				a.dropped += over
				a.log.Error("result buffer full; oldest results dropped", "dropped", over, "dropped_total", a.dropped)
			}
			a.mu.Unlock()
			select {
			case a.flushNow <- struct{}{}:
			default:
			}
		}()
	}
}

// flush posts the buffered results, oldest first, in batches.
func (a *Agent) flush(ctx context.Context) error {
	for {
		a.mu.Lock()
		batch := append([]Run(nil), a.buffer[:min(len(a.buffer), 500)]...)
		droppedBefore := a.dropped
		a.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		var out struct{ Accepted, Duplicates int }
		err := a.call(ctx, "satellite/ingest", map[string]any{"runs": batch}, &out)
		var rejected *statusError
		switch {
		case errors.As(err, &rejected) && rejected.code == http.StatusForbidden:
			// Some of these belong to an assignment withdrawn meanwhile:
			// keep only what the server can still accept.
			a.refresh(ctx)
			if a.dropUndeliverable() == 0 {
				return err
			}
			continue
		case errors.As(err, &rejected) && rejected.code == http.StatusBadRequest:
			// The server refuses the batch as malformed and always will:
			// drop it rather than block every later result behind it.
			a.log.Error("results refused by the server; dropped", "runs", len(batch), "err", err)
		case err != nil:
			return err
		}
		a.mu.Lock()
		// Results trimmed from the front while the batch was posted were
		// part of it; remove only what is left of the batch.
		if sent := len(batch) - (a.dropped - droppedBefore); sent > 0 {
			a.buffer = a.buffer[sent:]
		}
		a.mu.Unlock()
	}
}

// dropUndeliverable removes buffered results of configurations no longer
// assigned, and returns how many it removed.
func (a *Agent) dropUndeliverable() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	kept := a.buffer[:0]
	for _, r := range a.buffer {
		if _, ok := a.configs[r.ConfigurationID]; ok {
			kept = append(kept, r)
		}
	}
	n := len(a.buffer) - len(kept)
	a.buffer = kept
	if n > 0 {
		a.log.Warn("results of configurations no longer assigned dropped", "dropped", n)
	}
	return n
}

// statusError is the server answering with an error status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// call posts one procedure to the server.
func (a *Agent) call(ctx context.Context, procedure string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.opts.Server+"/api/"+procedure, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.opts.Key)
	res, err := a.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return &statusError{res.StatusCode, fmt.Sprintf("%s: %s: %s", procedure, res.Status, bytes.TrimSpace(b))}
	}
	return json.Unmarshal(b, out)
}
