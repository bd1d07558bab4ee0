package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// WrapOption adjusts one Wrap call.
type WrapOption func(*wrapConfig)

type wrapConfig struct {
	ttl    time.Duration
	ttlSet bool
}

// TTL overrides the scope's DefaultTTL for the values this call stores.
// Zero means no expiry.
func TTL(d time.Duration) WrapOption {
	return func(c *wrapConfig) { c.ttl, c.ttlSet = d, true }
}

func (s *Scope) ttlFor(opts []WrapOption) time.Duration {
	if len(opts) == 0 {
		return s.ttl
	}
	c := wrapConfig{ttl: s.ttl}
	for _, o := range opts {
		o(&c)
	}
	return c.ttl
}

// lookup reads key of the scope from the provider. Provider errors count as
// misses.
func (s *Scope) lookup(ctx context.Context, key string) ([]byte, bool) {
	if s.bypass.n.Load() != 0 && s.bypass.covers(s.prefix+key, s.now()) {
		return nil, false
	}
	if s.mem != nil {
		return s.mem.getPrefixed(s.memKey, key)
	}
	v, ok, err := s.p.Get(ctx, s.prefix+key)
	if err != nil {
		s.report(opGet, err)
		return nil, false
	}
	return v, ok
}

// Wrap returns the value cached under key, or loads it with load, stores it
// and returns it. Concurrent misses on one key share one load; see the
// package doc for what happens on errors, panics and cancellation.
func Wrap[T any](ctx context.Context, s *Scope, key string, load func(context.Context) (T, error), opts ...WrapOption) (T, error) {
	c := codecFor[T](s)
	if s.mem != nil {
		if s.bypass.n.Load() == 0 || !s.bypass.covers(s.prefix+key, s.now()) {
			if raw, m, ok := s.mem.memoPrefixed(s.memKey, key); ok {
				if v, ok := hitMemo(s, c, raw, m); ok {
					s.stats.hits.add()
					return v, nil
				}
			}
		}
		return wrapMiss(ctx, s, key, c, load, opts)
	}
	if raw, ok := s.lookup(ctx, key); ok {
		v, err := c.decode(raw)
		if err == nil {
			s.stats.hits.add()
			return v, nil
		}
		s.report(opGet, err) // an undecodable entry is a miss
	}
	return wrapMiss(ctx, s, key, c, load, opts)
}

// WrapFound is Wrap for a load that may find nothing. When load's error
// is missing (errors.Is), the absence is cached like a value: until it
// expires or its key is invalidated, every read returns missing without
// loading again (errors themselves are never cached).
//
//	sys, err := cache.WrapFound(ctx, scope, "system:"+id, ErrNotFound,
//		func(ctx context.Context) (System, error) { return db.System(ctx, id) })
func WrapFound[T any](ctx context.Context, s *Scope, key string, missing error, load func(context.Context) (T, error), opts ...WrapOption) (T, error) {
	var zero T
	p, err := Wrap(ctx, s, key, orAbsent(load, missing), opts...)
	switch {
	case err != nil:
		return zero, err
	case p == nil:
		return zero, missing
	}
	return *p, nil
}

// WrapBytes is Wrap for values that are bytes already, such as a JSON body
// an HTTP handler serves as it is: stored and returned with no encoding. A
// hit allocates nothing; the returned slice must not be modified.
func WrapBytes(ctx context.Context, s *Scope, key string, load func(context.Context) ([]byte, error), opts ...WrapOption) ([]byte, error) {
	if raw, ok := s.lookup(ctx, key); ok {
		s.stats.hits.add()
		return raw, nil
	}
	return wrapMiss(ctx, s, key, valueCodec[[]byte]{}, load, opts)
}

func wrapMiss[T any](ctx context.Context, s *Scope, key string, c valueCodec[T], load func(context.Context) (T, error), opts []WrapOption) (T, error) {
	f, err := missFlight(ctx, s, key, c, load, opts)
	if err != nil {
		var zero T
		return zero, err
	}
	return result(f, c)
}

// WrapJSON is Wrap for a value a server sends as JSON: it reads and
// fills the same entry as Wrap[T] on key, and returns the entry's bytes.
// A hit is the stored bytes, neither decoded nor copied (they must not be
// modified); a miss loads, encodes once, stores and returns the encoding.
// On a scope whose Codec is not the default JSON one, the value is read
// with Wrap and encoded with encoding/json.
//
//	raw, err := cache.WrapJSON(ctx, scope, "systems", db.Systems)
//	w.Write(raw)
func WrapJSON[T any](ctx context.Context, s *Scope, key string, load func(context.Context) (T, error), opts ...WrapOption) (json.RawMessage, error) {
	if _, isJSON := s.codec.(jsonCodec); !isJSON {
		v, err := Wrap(ctx, s, key, load, opts...)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	if raw, ok := s.lookup(ctx, key); ok {
		s.stats.hits.add()
		return raw, nil
	}
	c := codecFor[T](s)
	f, err := missFlight(ctx, s, key, c, load, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case f.err != nil:
		return nil, f.err
	case f.raw != nil:
		return f.raw, nil
	}
	return c.encode(f.val) // the flight could not encode it: say why
}

// orAbsent is load with its missing error as a nil value: what WrapFound
// and WrapFoundJSON cache for an absence.
func orAbsent[T any](load func(context.Context) (T, error), missing error) func(context.Context) (*T, error) {
	return func(ctx context.Context) (*T, error) {
		v, err := load(ctx)
		if errors.Is(err, missing) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &v, nil
	}
}

// WrapFoundJSON is WrapFound for a value a server sends as JSON, as
// WrapJSON is for Wrap: it shares WrapFound's entry on key, and a cached
// absence is missing.
func WrapFoundJSON[T any](ctx context.Context, s *Scope, key string, missing error, load func(context.Context) (T, error), opts ...WrapOption) (json.RawMessage, error) {
	raw, err := WrapJSON(ctx, s, key, orAbsent(load, missing), opts...)
	if err == nil && string(raw) == "null" {
		return nil, missing
	}
	return raw, err
}

// missFlight joins or leads the flight of key and waits for it.
func missFlight[T any](ctx context.Context, s *Scope, key string, c valueCodec[T], load func(context.Context) (T, error), opts []WrapOption) (*flight, error) {
	s.stats.misses.Add(1)
	s.mu.Lock()
	f, leader := s.joinLocked(s.prefix + key)
	s.mu.Unlock()
	if leader {
		go s.run(ctx, []*flight{f}, s.ttlFor(opts), c.funcs(), func(ctx context.Context, _ []*flight) ([]any, error) {
			v, err := load(ctx)
			if err != nil {
				return nil, err
			}
			return []any{v}, nil
		})
	}
	if err := wait(ctx, f); err != nil {
		return nil, err
	}
	return f, nil
}

// result is what a flight gives one waiter of type T.
func result[T any](f *flight, c valueCodec[T]) (T, error) {
	if f.err != nil {
		var zero T
		return zero, f.err
	}
	if f.hasVal {
		if v, ok := f.val.(T); ok {
			return v, nil
		}
	}
	return c.decode(f.raw)
}

// WrapMany returns one value per id, in order, each read through its own key
// keyFor(id): hits come from the provider (in one batch where it can),
// and each miss is loaded by load on its own, concurrently, sharing its
// flight with any concurrent Wrap or WrapMany on the same key. If any load
// fails, WrapMany returns the first error in id order.
func WrapMany[ID comparable, T any](ctx context.Context, s *Scope, ids []ID, keyFor func(ID) string, load func(context.Context, ID) (T, error), opts ...WrapOption) ([]T, error) {
	return wrapMany[ID, T](ctx, s, ids, keyFor, opts, func(ctx context.Context, leaders []*flight, leaderIDs []ID, c codecFuncs, ttl time.Duration) {
		for i, f := range leaders {
			id := leaderIDs[i]
			go s.run(ctx, []*flight{f}, ttl, c, func(ctx context.Context, _ []*flight) ([]any, error) {
				v, err := load(ctx, id)
				if err != nil {
					return nil, err
				}
				return []any{v}, nil
			})
		}
	})
}

// WrapManyBatched is WrapMany with one loader call for all the misses: load
// gets the ids that missed and that no concurrent call is loading already
// (those are awaited instead), once each, in input order, and must return
// one value per id in the same order.
func WrapManyBatched[ID comparable, T any](ctx context.Context, s *Scope, ids []ID, keyFor func(ID) string, load func(context.Context, []ID) ([]T, error), opts ...WrapOption) ([]T, error) {
	return wrapMany[ID, T](ctx, s, ids, keyFor, opts, batchStart(s, load))
}

// batchStart starts one load of all the flights a bulk call leads.
func batchStart[ID comparable, T any](s *Scope, load func(context.Context, []ID) ([]T, error)) startFunc[ID] {
	return func(ctx context.Context, leaders []*flight, leaderIDs []ID, c codecFuncs, ttl time.Duration) {
		byFlight := make(map[*flight]ID, len(leaders))
		for i, f := range leaders {
			byFlight[f] = leaderIDs[i]
		}
		go s.run(ctx, leaders, ttl, c, func(ctx context.Context, fs []*flight) ([]any, error) {
			batch := make([]ID, len(fs))
			for i, f := range fs {
				batch[i] = byFlight[f]
			}
			vs, err := load(ctx, batch)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(vs))
			for i, v := range vs {
				out[i] = v
			}
			return out, nil
		})
	}
}

// startFunc starts the loads of the flights a bulk call leads.
type startFunc[ID comparable] func(ctx context.Context, leaders []*flight, leaderIDs []ID, c codecFuncs, ttl time.Duration)

func wrapMany[ID comparable, T any](ctx context.Context, s *Scope, ids []ID, keyFor func(ID) string, opts []WrapOption, start startFunc[ID]) ([]T, error) {
	return wrapManyIn[ID, T](ctx, s, ids, keyFor, "", opts, start)
}

// wrapManyIn is wrapMany whose keyFor is fam.Key when fam is not "" (and
// ID is string): then a warm id is found from the family and the id.
func wrapManyIn[ID comparable, T any](ctx context.Context, s *Scope, ids []ID, keyFor func(ID) string, fam Family, opts []WrapOption, start startFunc[ID]) ([]T, error) {
	c := codecFor[T](s)
	out := make([]T, len(ids))
	var missing []int
	if s.mem != nil && s.bypass.n.Load() == 0 {
		// In-process: typed hits come from the entries' memos, found
		// without building their keys; only misses need theirs. The
		// clock is read once for the whole call (an entry that expires
		// during it may be served: it was live when the read began), and
		// the hits are counted with one add.
		var keys []string
		now, hits := s.mem.nowNanos(), uint64(0)
		mid := ""
		if fam != "" {
			mid = string(fam) + ":"
		}
		for i, id := range ids {
			var raw []byte
			var m *memo
			var ok bool
			if sid, isString := any(id).(string); mid != "" && isString && !needsEscape(sid) {
				raw, m, ok = s.mem.memoPartsAt(s.memKey, mid, sid, now) // the key is mid+sid
			} else {
				raw, m, ok = s.mem.memoPrefixedAt(s.memKey, keyFor(id), now)
			}
			if ok {
				if v, ok := hitMemo(s, c, raw, m); ok {
					out[i] = v
					hits++
					continue
				}
			}
			if keys == nil {
				keys = make([]string, len(ids))
			}
			keys[i] = s.prefix + keyFor(id)
			missing = append(missing, i)
		}
		s.stats.hits.addN(hits)
		return wrapManyMisses(ctx, s, ids, keys, out, missing, opts, start, c)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.prefix + keyFor(id)
	}
	raws := s.lookupFull(ctx, keys)
	for i, raw := range raws {
		if raw != nil {
			v, err := c.decode(raw)
			if err == nil {
				out[i] = v
				s.stats.hits.add()
				continue
			}
			s.report(opGet, err)
		}
		missing = append(missing, i)
	}
	return wrapManyMisses(ctx, s, ids, keys, out, missing, opts, start, c)
}

// wrapManyMisses loads the ids at the indexes in missing into out.
func wrapManyMisses[ID comparable, T any](ctx context.Context, s *Scope, ids []ID, keys []string, out []T, missing []int, opts []WrapOption, start startFunc[ID], c valueCodec[T]) ([]T, error) {
	if len(missing) == 0 {
		return out, nil
	}

	// Join or lead one flight per distinct missing key, in input order.
	flights := make(map[string]*flight, len(missing))
	var leaders []*flight
	var leaderIDs []ID
	s.mu.Lock()
	for _, i := range missing {
		if _, seen := flights[keys[i]]; seen {
			continue
		}
		s.stats.misses.Add(1)
		f, leader := s.joinLocked(keys[i])
		flights[keys[i]] = f
		if leader {
			leaders = append(leaders, f)
			leaderIDs = append(leaderIDs, ids[i])
		}
	}
	s.mu.Unlock()
	if len(leaders) > 0 {
		start(ctx, leaders, leaderIDs, c.funcs(), s.ttlFor(opts))
	}

	for _, i := range missing {
		if err := wait(ctx, flights[keys[i]]); err != nil {
			return nil, err
		}
	}
	for _, i := range missing {
		v, err := result(flights[keys[i]], c)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// WrapManyJSON is WrapManyBatched for values a server sends as JSON: load
// returns a value per id that missed (an id it leaves out gets T's zero
// value), each is encoded once into its entry, and every id's entry is
// returned as JSON, in input order, ready to stitch into a response
// without decoding.
//
//	raws, err := cache.WrapManyJSON(ctx, scope, systemIDs, keySystem,
//		func(ctx context.Context, ids []string) (map[string][]Incident, error) { return db.OpenBySystem(ctx, ids) })
func WrapManyJSON[ID comparable, T any](ctx context.Context, s *Scope, ids []ID, keyFor func(ID) string, load func(context.Context, []ID) (map[ID]T, error), opts ...WrapOption) ([]json.RawMessage, error) {
	return WrapManyBatched(ctx, s, ids, keyFor, encodeEach(load), opts...)
}

// encodeEach is load with each id's value encoded as JSON, in batch order.
func encodeEach[ID comparable, T any](load func(context.Context, []ID) (map[ID]T, error)) func(context.Context, []ID) ([]json.RawMessage, error) {
	return func(ctx context.Context, batch []ID) ([]json.RawMessage, error) {
		byID, err := load(ctx, batch)
		if err != nil {
			return nil, err
		}
		out := make([]json.RawMessage, len(batch))
		for i, id := range batch {
			if out[i], err = json.Marshal(byID[id]); err != nil {
				return nil, fmt.Errorf("cache: encode the value of %v: %w", id, err)
			}
		}
		return out, nil
	}
}

// WrapManyJSONFamily is WrapManyJSON for string ids whose keys are the
// family's (keyFor is fam.Key): on the in-process provider, a warm id is
// found without building its key, so a warm bulk read allocates nothing
// per id.
//
//	raws, err := cache.WrapManyJSONFamily(ctx, scope, systemIDs, cache.Family("status"), db.Statuses)
func WrapManyJSONFamily[T any](ctx context.Context, s *Scope, ids []string, fam Family, load func(context.Context, []string) (map[string]T, error), opts ...WrapOption) ([]json.RawMessage, error) {
	return wrapManyIn[string, json.RawMessage](ctx, s, ids, fam.Key, fam, opts, batchStart(s, encodeEach(load)))
}

// DecodeJSON decodes entries as WrapManyJSON returns them, each into a T,
// in order: for a caller that wants the values rather than the bytes.
func DecodeJSON[T any](raws []json.RawMessage) ([]T, error) {
	out := make([]T, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("cache: decode entry %d: %w", i, err)
		}
	}
	return out, nil
}
