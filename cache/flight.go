package cache

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// flight is one load of one key, shared by every caller that misses on the
// key while it runs.
type flight struct {
	key  string        // scoped key
	done chan struct{} // closed once val, raw and err are final

	// Written by the runner before done is closed; read after.
	val    any // the loader's value; meaningful when hasVal
	hasVal bool
	raw    []byte // the encoded value (nil if it could not be encoded)
	err    error

	// prev, with a Guard provider, is the flight on key that was sealed
	// when this one was created: this one starts once prev is done.
	prev *flight

	// Guarded by Scope.mu.
	doomed bool          // an invalidation covered key: never store
	stored chan struct{} // non-nil while storing; closed when the store is over
}

// loadFunc loads the values of flights, one per flight, in order.
type loadFunc func(ctx context.Context, fs []*flight) ([]any, error)

// join returns the flight for key, creating it if there is none. leader
// reports whether the caller created it and so must start its runner.
// The caller holds s.mu.
func (s *Scope) joinLocked(key string) (f *flight, leader bool) {
	if f = s.flights[key]; f != nil {
		s.stats.shared.Add(1)
		return f, false
	}
	f = &flight{key: key, done: make(chan struct{}), prev: s.sealed[key]}
	s.flights[key] = f
	return f, true
}

// detachLocked removes f from the table if it is still there. The caller
// holds s.mu.
func (s *Scope) detachLocked(f *flight) {
	if s.flights[f.key] == f {
		delete(s.flights, f.key)
	}
}

// wait blocks until f is done or ctx ends.
func wait(ctx context.Context, f *flight) error {
	select {
	case <-f.done:
		return nil
	default:
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run completes the flights fs, which the caller leads: it checks the
// provider again, loads what is still missing with one call to load, and
// stores each value unless an invalidation covered its key meanwhile. It
// runs on its own goroutine with a context derived from parent that no
// caller can cancel, bounded by the scope's LoadTimeout.
func (s *Scope) run(parent context.Context, fs []*flight, ttl time.Duration, c codecFuncs, load loadFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), s.loadTimeout)
	defer cancel()
	defer func() {
		for _, f := range fs {
			close(f.done)
		}
	}()

	// Check the provider again inside the flight. Without it, this
	// timeline loads twice:
	//
	//	caller A: Get(k) → miss
	//	flight F (another caller's): load, Set(k), leave the table
	//	caller A: no flight for k → leads a new one → loads again
	//
	// Reading again after joining the table makes A find F's value.
	if s.guard == nil {
		if pending := s.recheck(ctx, fs, c.decode); len(pending) > 0 {
			s.loadAndStore(ctx, pending, ttl, c, load, false)
		}
		return
	}

	// With a Guard provider another process may invalidate a key at any
	// moment, unseen by settle. A value is known fresh only as of the
	// provider's answer (the re-check Get, or the guarded store); a caller
	// that joined after that answer could get a value older than an
	// invalidation that returned before it joined:
	//
	//	flight F:  Get(k) → v0 ............................... answer to waiters
	//	process B:          db.write, Invalidate(k) returns
	//	caller R:                                   joins F → v0 (stale)
	//
	// So the flight is sealed (out of the table) while the provider answers,
	// and joinable only while the loader runs. A caller that misses while
	// it is sealed leads a successor flight, which others join and which
	// starts when the sealed one is done: by then the value is usually
	// stored, so the successor's re-check finds it and a burst of misses
	// still costs one load.
	defer s.unsealAll(fs)
	for _, f := range fs {
		if f.prev != nil {
			select {
			case <-f.prev.done:
			case <-ctx.Done():
			}
			f.prev = nil
		}
	}
	pending := fs
	for attempt := 1; len(pending) > 0; attempt++ {
		s.seal(pending)
		if pending = s.recheck(ctx, pending, c.decode); len(pending) == 0 {
			return
		}
		s.reopen(pending)
		pending = s.loadAndStore(ctx, pending, ttl, c, load, attempt < maxGuardAttempts)
	}
}

// seal takes fs out of the table while the provider answers for them.
func (s *Scope) seal(fs []*flight) {
	s.mu.Lock()
	for _, f := range fs {
		s.sealLocked(f)
	}
	s.mu.Unlock()
}

func (s *Scope) sealLocked(f *flight) {
	s.detachLocked(f)
	s.sealed[f.key] = f
}

// reopen puts fs back in the table, where no successor took their key,
// before a new attempt takes its token. An invalidation that doomed them
// before that token wrote the database before the load that follows, so
// the doom is forgotten; one after it dooms them again.
func (s *Scope) reopen(fs []*flight) {
	s.mu.Lock()
	for _, f := range fs {
		f.doomed = false
		if s.flights[f.key] == nil {
			s.flights[f.key] = f
			if s.sealed[f.key] == f {
				delete(s.sealed, f.key)
			}
		}
	}
	s.mu.Unlock()
}

// unsealAll forgets fs as sealed flights once they are done.
func (s *Scope) unsealAll(fs []*flight) {
	s.mu.Lock()
	for _, f := range fs {
		if s.sealed[f.key] == f {
			delete(s.sealed, f.key)
		}
	}
	s.mu.Unlock()
}

// maxGuardAttempts bounds how often a flight loads again because a Guard
// provider refused its value.
const maxGuardAttempts = 3

// loadAndStore loads pending with one call to load and stores the values. It
// returns the flights to load again: those whose store a Guard provider
// refused because another process invalidated their key meanwhile, when
// retry is set. Such a flight may have been joined, in this process, after
// that other process's Invalidate returned; giving its waiters the refused
// value would show them data from before that write, so it loads again
// instead and they wait for the fresh value. After the last attempt the
// waiters get the refused value, unstored.
func (s *Scope) loadAndStore(ctx context.Context, pending []*flight, ttl time.Duration, c codecFuncs, load loadFunc, retry bool) (again []*flight) {
	// With a Guard provider, take the token before loading: any
	// invalidation after this point, by any process, refuses the store.
	var token uint64
	storable := true
	if s.guard != nil {
		var err error
		if token, err = s.guard.Token(ctx); err != nil {
			s.report(opGet, err)
			storable = false // cannot prove freshness: serve, do not store
		}
	}

	vals, err := s.callLoader(ctx, load, pending)
	if err == nil && len(vals) != len(pending) {
		err = fmt.Errorf("%w: %d values for %d ids", ErrBatchLength, len(vals), len(pending))
		s.stats.loadErrors.Add(1)
	}
	if err != nil {
		s.mu.Lock()
		for _, f := range pending {
			f.val, f.hasVal, f.raw, f.err = nil, false, nil, err
			s.detachLocked(f)
		}
		s.mu.Unlock()
		return nil
	}

	for i, f := range pending {
		f.val, f.hasVal, f.raw = vals[i], true, nil
		raw, err := c.encode(vals[i])
		if err != nil {
			s.report(opSet, fmt.Errorf("cache: encode %s: %w", f.key, err))
			continue
		}
		f.raw = raw
	}

	// Decide, under the lock that Invalidate takes, which values to store:
	// a flight Invalidate has doomed never stores; the others announce
	// that they are storing, so that Invalidate waits for them.
	entries := make([]Entry, 0, len(pending))
	storing := pending[:0:0]
	s.mu.Lock()
	for _, f := range pending {
		switch {
		case f.doomed && s.guard != nil && retry:
			// With a Guard, a caller may have joined after another
			// process's invalidation, which only the guard would have
			// caught: load again, as for a refused store.
			s.stats.stale.Add(1)
			s.sealLocked(f)
			again = append(again, f)
		case f.doomed:
			s.stats.stale.Add(1)
			s.detachLocked(f)
		case !storable || f.raw == nil:
			s.detachLocked(f)
		default:
			storing = append(storing, f)
			entries = append(entries, Entry{Key: f.key, Value: f.raw, TTL: ttl})
			if s.guard != nil {
				// The guarded store is the provider's answer: nobody
				// may join after it (see run). Invalidate need not wait
				// for it either: the guard orders it in the store.
				s.sealLocked(f)
			} else {
				f.stored = make(chan struct{})
				s.storing[f] = struct{}{}
			}
		}
	}
	s.mu.Unlock()
	if len(storing) == 0 {
		return again
	}

	s.bypass.observe(ttl)
	dropped := s.store(ctx, token, entries)

	s.mu.Lock()
	for i, f := range storing {
		if f.stored != nil {
			close(f.stored)
			f.stored = nil
			delete(s.storing, f)
		}
		s.detachLocked(f)
		if len(dropped) > 0 && dropped[0] == i {
			dropped = dropped[1:]
			if retry {
				again = append(again, f)
			}
		}
	}
	s.mu.Unlock()
	return again
}

// codecFuncs are a valueCodec's methods with T erased.
type codecFuncs struct {
	encode func(any) ([]byte, error)
	decode func([]byte) (any, error)
}

// recheck completes, from the provider, the flights whose key it holds (and
// can decode), and returns the others.
func (s *Scope) recheck(ctx context.Context, fs []*flight, decode func([]byte) (any, error)) []*flight {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	vals := s.lookupFull(ctx, keys)
	pending := fs[:0:0]
	s.mu.Lock()
	for i, f := range fs {
		if vals[i] == nil {
			pending = append(pending, f)
			continue
		}
		v, err := decode(vals[i])
		if err != nil {
			s.report(opGet, err)
			pending = append(pending, f)
			continue
		}
		f.raw, f.val, f.hasVal = vals[i], v, true
		s.detachLocked(f)
	}
	s.mu.Unlock()
	return pending
}

// callLoader runs load, turning a panic into a *PanicError.
func (s *Scope) callLoader(ctx context.Context, load loadFunc, fs []*flight) (vals []any, err error) {
	s.stats.loads.Add(1)
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			vals, err = nil, &PanicError{Value: r, Stack: debug.Stack()}
		}
		if err != nil {
			s.stats.loadErrors.Add(1)
		}
	}()
	return load(ctx, fs)
}

// store writes entries, through the provider's guard when it has one, and
// returns the ascending indexes of the entries the guard refused.
func (s *Scope) store(ctx context.Context, token uint64, entries []Entry) (dropped []int) {
	if s.guard != nil {
		dropped, err := s.guard.SetGuarded(ctx, token, entries)
		if err != nil {
			s.report(opSet, err)
			return nil
		}
		s.stats.stale.Add(uint64(len(dropped)))
		return dropped
	}
	for _, e := range entries {
		if err := s.p.Set(ctx, e.Key, e.Value, e.TTL); err != nil {
			s.report(opSet, err)
		}
	}
	return nil
}

// lookupFull reads scoped keys from the provider in one batch where it can;
// a nil element is a miss. Provider errors count as misses.
func (s *Scope) lookupFull(ctx context.Context, keys []string) [][]byte {
	out := make([][]byte, len(keys))
	now := s.now()
	bypassed := false
	if s.bypass.n.Load() != 0 {
		for _, k := range keys {
			if s.bypass.covers(k, now) {
				bypassed = true
				break
			}
		}
	}
	if s.batch != nil && len(keys) > 1 && !bypassed {
		vals, err := s.batch.GetMany(ctx, keys)
		if err == nil && len(vals) == len(keys) {
			return vals
		}
		if err == nil {
			err = fmt.Errorf("cache: GetMany returned %d values for %d keys", len(vals), len(keys))
		}
		s.report(opGet, err)
		return out
	}
	for i, k := range keys {
		if bypassed && s.bypass.covers(k, now) {
			continue
		}
		v, ok, err := s.p.Get(ctx, k)
		if err != nil {
			s.report(opGet, err)
			continue
		}
		if ok {
			if v == nil {
				v = []byte{}
			}
			out[i] = v
		}
	}
	return out
}
