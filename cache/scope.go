package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

var (
	// ErrPanic is wrapped by the error every waiter gets when a loader
	// panics. errors.As with *PanicError gives the value and stack.
	ErrPanic = errors.New("cache: loader panicked")

	// ErrBatchLength is wrapped by the error WrapManyBatched returns when its
	// loader returns a different number of values than it was given ids.
	ErrBatchLength = errors.New("cache: batched loader returned the wrong number of values")

	// ErrTooLarge is returned by Memory.Set for a value that can never fit
	// within MaxBytes.
	ErrTooLarge = errors.New("cache: value larger than the cache")
)

// PanicError carries a loader's panic to every waiter. It wraps ErrPanic.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("%v: %v", ErrPanic, e.Value) }
func (e *PanicError) Unwrap() error { return ErrPanic }

// Codec encodes values for the provider. Implementations must be safe for
// concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// ScopeOptions configure a Scope. The zero value of each field is usable,
// except Name.
type ScopeOptions struct {
	// Name is the scope's key prefix: keys are stored as Name + ":" + key.
	// It must be non-empty and must not contain ':' (so that no scope's
	// keys fall under another scope's prefix).
	Name string

	// DefaultTTL is how long a loaded value stays cached, unless a call
	// passes TTL. Zero means entries do not expire; only invalidation
	// removes them.
	DefaultTTL time.Duration

	// OnError is told about every provider error; op is "get", "set",
	// "delete" or "deleteByPrefix". Nil: errors are only counted in Stats.
	// It is called synchronously and must not block.
	OnError func(op string, err error)

	// LoadTimeout bounds a loader's context. Zero means 30 seconds.
	LoadTimeout time.Duration

	// Codec encodes values for Wrap, WrapMany and WrapManyBatched. Nil
	// means encoding/json.
	Codec Codec
}

// Scope is a named family of keys on a Provider, with a single-flight table
// of the loads in flight. It is safe for concurrent use. Create one with
// NewScope.
type Scope struct {
	p      Provider
	batch  BatchGetter // nil if p is not one
	guard  Guard       // nil if p is not one
	mem    *Memory     // p, if it is the in-process provider: hits take its fast path
	name   string
	prefix string    // name + ":"
	memKey memPrefix // prefix, as mem hashes it

	ttl         time.Duration
	loadTimeout time.Duration
	onError     func(op string, err error)
	codec       Codec

	stats counters

	mu      sync.Mutex
	flights map[string]*flight   // by scoped key; only loads a new reader may join
	storing map[*flight]struct{} // flights whose Set is under way, joinable or not
	// sealed holds, with a Guard provider, the flight of each key that is
	// out of the table while the provider answers for it; see run.
	sealed map[string]*flight
	bypass bypassSet // keys whose invalidation failed; see bypass.go

	clock func() time.Time // nil: time.Now; set by tests
}

// NewScope returns a scope on p. It panics if opts.Name is empty or
// contains ':'; scope names are constants of the program, not input.
func NewScope(p Provider, opts ScopeOptions) *Scope {
	if opts.Name == "" || strings.Contains(opts.Name, ":") {
		panic(fmt.Sprintf("cache: invalid scope name %q", opts.Name))
	}
	s := &Scope{
		p:           p,
		name:        opts.Name,
		prefix:      opts.Name + ":",
		ttl:         opts.DefaultTTL,
		loadTimeout: opts.LoadTimeout,
		onError:     opts.OnError,
		codec:       opts.Codec,
		flights:     make(map[string]*flight),
		storing:     make(map[*flight]struct{}),
		sealed:      make(map[string]*flight),
	}
	if s.loadTimeout <= 0 {
		s.loadTimeout = 30 * time.Second
	}
	if s.codec == nil {
		s.codec = jsonCodec{}
	}
	s.batch, _ = p.(BatchGetter)
	s.guard, _ = p.(Guard)
	if s.mem, _ = p.(*Memory); s.mem != nil {
		s.memKey = s.mem.prefix(s.prefix)
	}
	s.bypass.scopePrefix = s.prefix
	s.bypass.observe(s.ttl) // entries written before this process started
	return s
}

// Name returns the scope's name.
func (s *Scope) Name() string { return s.name }

// Invalidate removes key from the cache. When it returns nil, no read that
// starts afterwards sees a value loaded before it was called, and no load in
// flight when it was called stores its value.
//
// If the provider's Delete fails, Invalidate reports it through OnError,
// returns the error, and the scope reads key from the loader instead of the
// provider until the entry must have expired (see the package doc).
func (s *Scope) Invalidate(ctx context.Context, key string) error {
	full := s.prefix + key
	match := func(k string) bool { return k == full }
	if err := s.settle(ctx, match); err != nil {
		s.bypass.add(full, false, s.now(), s.loadTimeout)
		return fmt.Errorf("cache: invalidate %s: %w", full, err)
	}
	err := s.p.Delete(ctx, full)
	if err != nil {
		// Before detachMatching: a flight still joinable after it must
		// find the bypass, not the stale entry.
		s.report(opDelete, err)
		s.bypass.add(full, false, s.now(), 0)
	}
	s.detachMatching(match)
	if err != nil {
		return fmt.Errorf("cache: invalidate %s: %w", full, err)
	}
	s.bypass.clear(full, false)
	return nil
}

// InvalidatePrefix removes every key of the scope that starts with prefix
// ("" removes the whole scope) and returns how many live entries the
// provider removed. Its guarantees are those of Invalidate for every key
// under prefix, including keys that were never cached or invalidated before.
func (s *Scope) InvalidatePrefix(ctx context.Context, prefix string) (int, error) {
	full := s.prefix + prefix
	match := func(k string) bool { return strings.HasPrefix(k, full) }
	if err := s.settle(ctx, match); err != nil {
		s.bypass.add(full, true, s.now(), s.loadTimeout)
		return 0, fmt.Errorf("cache: invalidate prefix %s: %w", full, err)
	}
	n, err := s.p.DeleteByPrefix(ctx, full)
	if err != nil {
		s.report(opDeleteByPrefix, err)
		s.bypass.add(full, true, s.now(), 0)
	}
	s.detachMatching(match)
	if err != nil {
		return n, fmt.Errorf("cache: invalidate prefix %s: %w", full, err)
	}
	s.bypass.clear(full, true)
	return n, nil
}

// settle detaches every flight whose key matches, so that no new reader
// joins it; dooms those that have not begun to store, so they never will;
// and waits for every store of a matching key under way, so that the delete
// that follows lands after their write. That includes stores of flights an
// earlier, concurrent invalidation detached: it waits for them too, but
// this invalidation may not return before they land either.
//
// Timeline that the wait prevents, with a slow provider:
//
//	load L:  loaded v1 ──── Set(k, v1) sent ........................ applied
//	mutation:        db.write(v2) ── Invalidate: Delete(k) applied ─┘ (too early)
//	reader:                                                  Get(k) → v1  (stale)
//
// If ctx ends while it waits, settle returns ctx's error without deleting:
// the caller then bypasses the key until the pending store's value must
// have expired.
func (s *Scope) settle(ctx context.Context, match func(key string) bool) error {
	var storing []chan struct{}
	s.mu.Lock()
	for k, f := range s.flights {
		if !match(k) {
			continue
		}
		delete(s.flights, k)
		if f.stored == nil {
			f.doomed = true
		}
	}
	for f := range s.storing {
		if match(f.key) {
			storing = append(storing, f.stored)
		}
	}
	s.mu.Unlock()
	if len(storing) > 0 && testHookSettleWait != nil {
		testHookSettleWait()
	}
	for _, c := range storing {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// testHookSettleWait, when set by a test, runs just before settle waits
// for stores under way.
var testHookSettleWait func()

// detachMatching runs once the provider's delete is over. A flight that
// began between settle and the end of the delete may have read the old
// entry when it checked the provider again:
//
//	Invalidate:  settle ── Delete(k) sent ............ applied ── return
//	flight G:             joins table ── Get(k) → old
//	reader R:                                                  joins G → old
//
// so such flights leave the table too. Their waiters all started before
// Invalidate returned. They are doomed as well: out of the table, a later
// invalidation could not find them, and what they load may predate its
// write. A flight already storing is fine: settle finds it in s.storing.
func (s *Scope) detachMatching(match func(key string) bool) {
	s.mu.Lock()
	for k, f := range s.flights {
		if match(k) {
			delete(s.flights, k)
			if f.stored == nil {
				f.doomed = true
			}
		}
	}
	s.mu.Unlock()
}

func (s *Scope) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// report counts a provider error and passes it to OnError.
func (s *Scope) report(o op, err error) {
	s.stats.errors[o].Add(1)
	if s.onError != nil {
		s.onError(o.String(), err)
	}
}
