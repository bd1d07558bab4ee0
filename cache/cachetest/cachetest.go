// Package cachetest is a conformance suite for cache.Provider
// implementations, in the manner of testing/slogtest.
//
// A provider's own tests call Run with a constructor that returns a fresh,
// empty provider:
//
//	func TestConformance(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) cache.Provider {
//			return cache.NewMemory(cache.MemoryOptions{Now: clock.Now})
//		}, cachetest.Options{Advance: clock.Advance})
//	}
//
// Run checks the contract of cache.Provider and, when the provider
// implements them, of cache.BatchGetter and cache.Guard. A provider that does
// not retain values (every Get misses, like the null provider) is detected
// with a probe; the subtests that need a stored value are then skipped.
package cachetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
)

// Options tells Run what it may rely on.
type Options struct {
	// Advance moves the provider's clock forward by d. Nil means the
	// provider uses real time: the suite then writes short TTLs and polls,
	// with a deadline, until they expire.
	Advance func(d time.Duration)
}

// Timing of the real-time expiry tests.
const (
	shortTTL     = 75 * time.Millisecond
	expiryWait   = 5 * time.Second
	pollInterval = 5 * time.Millisecond
)

// Run runs the conformance suite as subtests of t. newProvider must return
// a new provider that holds no entries and shares none with any other
// provider it returned: the suite deletes everything the provider holds.
func Run(t *testing.T, newProvider func(t *testing.T) cache.Provider, opts Options) {
	t.Helper()
	s := &suite{newProvider: newProvider, opts: opts}
	s.retains = s.probe(t)
	if !s.retains {
		t.Log("cachetest: the provider does not retain values (a Set was not visible to the next Get); skipping the subtests that need a stored value")
	}

	type test struct {
		name  string
		store bool // needs a provider that retains values
		fn    func(t *testing.T, p cache.Provider)
	}
	tests := []test{
		{"Get of a missing key misses", false, s.testGetMissing},
		{"Has of a missing key is false", false, s.testHasMissing},
		{"Delete of a missing key is not an error", false, s.testDeleteMissing},
		{"DeleteByPrefix with no matching keys removes nothing", false, s.testDeleteByPrefixNone},
		{"concurrent Set, Get, Has and Delete are race-free", false, s.testConcurrent},
		{"Set then Get returns the value", true, s.testSetGet},
		{"an empty value round-trips as found and non-nil", true, s.testEmptyValue},
		{"Set overwrites the previous value", true, s.testOverwrite},
		{"Set copies its input", true, s.testSetCopies},
		{"Has reports a stored key", true, s.testHas},
		{"a zero TTL never expires", true, s.testZeroTTL},
		{"a positive TTL expires", true, s.testExpiry},
		{"Delete removes the key and only that key", true, s.testDelete},
		{"DeleteByPrefix removes exactly the keys with the prefix", true, s.testDeleteByPrefix},
		{"DeleteByPrefix counts only live entries", true, s.testDeleteByPrefixLive},
		{"DeleteByPrefix of the empty prefix removes everything", true, s.testDeleteAll},
		{"GetMany of missing keys returns nil elements", false, s.testGetManyMissing},
		{"GetMany returns values in order with nil for misses", true, s.testGetMany},
		{"SetGuarded with a fresh token stores", true, s.testGuardFresh},
		{"SetGuarded with no entries drops nothing", false, s.testGuardEmpty},
		{"SetGuarded drops a key deleted after the token", true, s.testGuardDelete},
		{"SetGuarded drops a key under a prefix deleted after the token", true, s.testGuardPrefix},
		{"SetGuarded keeps a key when only unrelated keys and prefixes were invalidated", true, s.testGuardUnrelated},
		{"SetGuarded ignores invalidations before the token", true, s.testGuardBefore},
		{"SetGuarded drops only the covered entries of a batch", true, s.testGuardMixed},
		{"SetGuarded entries expire with their TTL", true, s.testGuardTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.store && !s.retains {
				t.Skip("the provider does not retain values")
			}
			tc.fn(t, newProvider(t))
		})
	}
}

type suite struct {
	newProvider func(t *testing.T) cache.Provider
	opts        Options
	retains     bool
}

// probe reports whether a fresh provider returns what was just Set.
func (s *suite) probe(t *testing.T) bool {
	t.Helper()
	p := s.newProvider(t)
	ctx := t.Context()
	if err := p.Set(ctx, "cachetest:probe", []byte("v"), 0); err != nil {
		t.Fatalf("probe: Set: %v", err)
	}
	_, found, err := p.Get(ctx, "cachetest:probe")
	if err != nil {
		t.Fatalf("probe: Get: %v", err)
	}
	if err := p.Delete(ctx, "cachetest:probe"); err != nil {
		t.Fatalf("probe: Delete: %v", err)
	}
	return found
}

// Helpers. Each fails the test on a provider error.

func set(t *testing.T, p cache.Provider, key, value string, ttl time.Duration) {
	t.Helper()
	if err := p.Set(t.Context(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func get(t *testing.T, p cache.Provider, key string) ([]byte, bool) {
	t.Helper()
	v, found, err := p.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !found && v != nil {
		t.Errorf("Get(%q) = %q, false; a miss must return a nil value", key, v)
	}
	return v, found
}

func has(t *testing.T, p cache.Provider, key string) bool {
	t.Helper()
	ok, err := p.Has(t.Context(), key)
	if err != nil {
		t.Fatalf("Has(%q): %v", key, err)
	}
	return ok
}

func del(t *testing.T, p cache.Provider, key string) {
	t.Helper()
	if err := p.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
}

func delPrefix(t *testing.T, p cache.Provider, prefix string) int {
	t.Helper()
	n, err := p.DeleteByPrefix(t.Context(), prefix)
	if err != nil {
		t.Fatalf("DeleteByPrefix(%q): %v", prefix, err)
	}
	return n
}

func wantValue(t *testing.T, p cache.Provider, key, want string) {
	t.Helper()
	v, found := get(t, p, key)
	if !found || string(v) != want {
		t.Errorf("Get(%q) = %q, %v; want %q, true", key, v, found, want)
	}
}

func wantMiss(t *testing.T, p cache.Provider, key string) {
	t.Helper()
	if v, found := get(t, p, key); found {
		t.Errorf("Get(%q) = %q, true; want a miss", key, v)
	}
}

func batchGetter(t *testing.T, p cache.Provider) cache.BatchGetter {
	t.Helper()
	b, ok := p.(cache.BatchGetter)
	if !ok {
		t.Skipf("%T does not implement cache.BatchGetter", p)
	}
	return b
}

func guard(t *testing.T, p cache.Provider) cache.Guard {
	t.Helper()
	g, ok := p.(cache.Guard)
	if !ok {
		t.Skipf("%T does not implement cache.Guard", p)
	}
	return g
}

func token(t *testing.T, g cache.Guard) uint64 {
	t.Helper()
	tok, err := g.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func setGuarded(t *testing.T, g cache.Guard, tok uint64, entries ...cache.Entry) int {
	t.Helper()
	dropped, err := g.SetGuarded(t.Context(), tok, entries)
	if err != nil {
		t.Fatalf("SetGuarded: %v", err)
	}
	for i, d := range dropped {
		if d < 0 || d >= len(entries) || i > 0 && d <= dropped[i-1] {
			t.Fatalf("SetGuarded returned dropped indexes %v for %d entries; want ascending indexes into entries", dropped, len(entries))
		}
	}
	return len(dropped)
}

func entry(key, value string) cache.Entry {
	return cache.Entry{Key: key, Value: []byte(value)}
}

// expire makes an entry written with ttl expire: with Advance it moves the
// clock past ttl; in real time it polls until key misses, failing after a
// deadline.
func (s *suite) expire(t *testing.T, p cache.Provider, key string, ttl time.Duration) {
	t.Helper()
	if s.opts.Advance != nil {
		s.opts.Advance(ttl + time.Second)
		return
	}
	deadline := time.Now().Add(expiryWait)
	for {
		if _, found := get(t, p, key); !found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%q) still hits %v after a %v TTL", key, expiryWait, ttl)
		}
		time.Sleep(pollInterval)
	}
}

// ttl returns the TTL the expiry tests write: long enough in a driven
// clock that it never passes by itself, short in real time.
func (s *suite) ttl() time.Duration {
	if s.opts.Advance != nil {
		return time.Minute
	}
	return shortTTL
}

// The Provider contract.

func (s *suite) testGetMissing(t *testing.T, p cache.Provider) {
	wantMiss(t, p, "missing")
	wantMiss(t, p, "")
}

func (s *suite) testHasMissing(t *testing.T, p cache.Provider) {
	if has(t, p, "missing") {
		t.Error("Has(missing) = true")
	}
}

func (s *suite) testDeleteMissing(t *testing.T, p cache.Provider) {
	del(t, p, "missing")
	del(t, p, "missing") // twice: still not an error
}

func (s *suite) testDeleteByPrefixNone(t *testing.T, p cache.Provider) {
	if n := delPrefix(t, p, "nothing:here:"); n != 0 {
		t.Errorf("DeleteByPrefix on an empty provider = %d, want 0", n)
	}
}

func (s *suite) testSetGet(t *testing.T, p cache.Provider) {
	for _, key := range []string{"k", "", "a:b:c", "ünï:\x00:\xff", strings.Repeat("x", 1024)} {
		value := "value of " + key
		set(t, p, key, value, 0)
		wantValue(t, p, key, value)
	}
	binary := string([]byte{0, 1, 2, 0xff, 0xfe, '\n'})
	set(t, p, "binary", binary, 0)
	wantValue(t, p, "binary", binary)
}

func (s *suite) testEmptyValue(t *testing.T, p cache.Provider) {
	if err := p.Set(t.Context(), "empty", []byte{}, 0); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := p.Set(t.Context(), "nil", nil, 0); err != nil {
		t.Fatalf("Set: %v", err)
	}
	for _, key := range []string{"empty", "nil"} {
		v, found := get(t, p, key)
		if !found || v == nil || len(v) != 0 {
			t.Errorf("Get(%q) = %#v, %v; want a non-nil empty slice, true", key, v, found)
		}
		if !has(t, p, key) {
			t.Errorf("Has(%q) = false for a stored empty value", key)
		}
	}
}

func (s *suite) testOverwrite(t *testing.T, p cache.Provider) {
	set(t, p, "k", "first", 0)
	set(t, p, "k", "second, longer", 0)
	wantValue(t, p, "k", "second, longer")
	set(t, p, "k", "3", 0)
	wantValue(t, p, "k", "3")
}

func (s *suite) testSetCopies(t *testing.T, p cache.Provider) {
	buf := []byte("original")
	if err := p.Set(t.Context(), "k", buf, 0); err != nil {
		t.Fatalf("Set: %v", err)
	}
	copy(buf, "MUTATED!")
	wantValue(t, p, "k", "original")
}

func (s *suite) testHas(t *testing.T, p cache.Provider) {
	set(t, p, "k", "v", 0)
	if !has(t, p, "k") {
		t.Error("Has(k) = false after Set")
	}
	if has(t, p, "k2") {
		t.Error("Has(k2) = true for a key never set")
	}
	del(t, p, "k")
	if has(t, p, "k") {
		t.Error("Has(k) = true after Delete")
	}
}

func (s *suite) testZeroTTL(t *testing.T, p cache.Provider) {
	set(t, p, "forever", "v", 0)
	set(t, p, "short", "v", s.ttl())
	s.expire(t, p, "short", s.ttl())
	wantValue(t, p, "forever", "v")
	if s.opts.Advance != nil {
		s.opts.Advance(100 * 365 * 24 * time.Hour)
		wantValue(t, p, "forever", "v")
	}
}

func (s *suite) testExpiry(t *testing.T, p cache.Provider) {
	ttl := s.ttl()
	set(t, p, "long", "v", time.Hour)
	wantValue(t, p, "long", "v")
	set(t, p, "short", "v", ttl)
	if s.opts.Advance != nil {
		// With a driven clock, check the entry lives until its TTL.
		wantValue(t, p, "short", "v")
		s.opts.Advance(ttl / 2)
		wantValue(t, p, "short", "v")
		if !has(t, p, "short") {
			t.Error("Has(short) = false before its TTL")
		}
	}
	s.expire(t, p, "short", ttl)
	wantMiss(t, p, "short")
	if has(t, p, "short") {
		t.Error("Has(short) = true after its TTL")
	}
	wantValue(t, p, "long", "v")

	// A sub-millisecond TTL still expires, and is not taken for "never".
	set(t, p, "tiny", "v", time.Microsecond)
	s.expire(t, p, "tiny", time.Microsecond)
	wantMiss(t, p, "tiny")

	// Setting again after expiry stores a new entry.
	set(t, p, "short", "again", 0)
	wantValue(t, p, "short", "again")
}

func (s *suite) testDelete(t *testing.T, p cache.Provider) {
	set(t, p, "a", "1", 0)
	set(t, p, "ab", "2", 0)
	set(t, p, "a:b", "3", 0)
	del(t, p, "a")
	wantMiss(t, p, "a")
	wantValue(t, p, "ab", "2")
	wantValue(t, p, "a:b", "3")
	del(t, p, "a") // deleting it again is not an error
	set(t, p, "a", "4", 0)
	wantValue(t, p, "a", "4")
}

// prefixKeys is the key set of the DeleteByPrefix tests: separators, raw
// bytes up to 0xff, unicode, and ids that are prefixes of other ids.
var prefixKeys = []string{
	"a", "ab", "ab:", "ab:1", "ab:2:x", "ab:\xff", "ab:\xff\xff", "ab:\xffz",
	"ab;", "ab\xff", "ac", "b",
	"ab:ü", "ab:üz", "ab:ý",
	"notifs:u1", "notifs:u1:a", "notifs:u1:b:c", "notifs:u10:x", "notifs:u2:a",
	"\xff", "\xff\xff", "\xff\xff:x", "\x00", "\x00a",
}

func (s *suite) testDeleteByPrefix(t *testing.T, p cache.Provider) {
	prefixes := []string{
		"ab:", "notifs:u1:", "notifs:u1", "ab", "ab:\xff", "ab:ü",
		"\xff", "\xff\xff", "\x00", "a", "ab:1", "zzz", "ab:\xff\xff\xff",
	}
	for _, prefix := range prefixes {
		t.Run(fmt.Sprintf("prefix %q", prefix), func(t *testing.T) {
			p := s.newProvider(t)
			for _, k := range prefixKeys {
				set(t, p, k, "v:"+k, 0)
			}
			var want []string
			for _, k := range prefixKeys {
				if strings.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			if n := delPrefix(t, p, prefix); n != len(want) {
				t.Errorf("DeleteByPrefix(%q) = %d, want %d (%q)", prefix, n, len(want), want)
			}
			for _, k := range prefixKeys {
				_, found := get(t, p, k)
				if gone := strings.HasPrefix(k, prefix); found == gone {
					if gone {
						t.Errorf("key %q survived DeleteByPrefix(%q)", k, prefix)
					} else {
						t.Errorf("key %q was removed by DeleteByPrefix(%q)", k, prefix)
					}
				}
			}
			// The prefix is gone: deleting it again removes nothing, and
			// keys set again under it are stored normally.
			if n := delPrefix(t, p, prefix); n != 0 {
				t.Errorf("second DeleteByPrefix(%q) = %d, want 0", prefix, n)
			}
			set(t, p, prefix+"new", "v", 0)
			wantValue(t, p, prefix+"new", "v")
		})
	}
}

func (s *suite) testDeleteByPrefixLive(t *testing.T, p cache.Provider) {
	ttl := s.ttl()
	set(t, p, "x:live1", "v", 0)
	set(t, p, "x:live2", "v", time.Hour)
	set(t, p, "x:dead", "v", ttl)
	set(t, p, "x:gone", "v", 0)
	del(t, p, "x:gone")
	s.expire(t, p, "x:dead", ttl)
	if n := delPrefix(t, p, "x:"); n != 2 {
		t.Errorf("DeleteByPrefix(x:) = %d, want 2 (the expired and the deleted entries are not live)", n)
	}
	wantMiss(t, p, "x:live1")
	wantMiss(t, p, "x:live2")
}

func (s *suite) testDeleteAll(t *testing.T, p cache.Provider) {
	for _, k := range prefixKeys {
		set(t, p, k, "v", 0)
	}
	set(t, p, "", "empty key", 0)
	if n := delPrefix(t, p, ""); n != len(prefixKeys)+1 {
		t.Errorf("DeleteByPrefix(\"\") = %d, want %d", n, len(prefixKeys)+1)
	}
	for _, k := range append(slices.Clone(prefixKeys), "") {
		wantMiss(t, p, k)
	}
	if n := delPrefix(t, p, ""); n != 0 {
		t.Errorf("DeleteByPrefix(\"\") on an emptied provider = %d, want 0", n)
	}
}

func (s *suite) testConcurrent(t *testing.T, p cache.Provider) {
	const (
		workers = 8
		rounds  = 100
	)
	keys := []string{"c:0", "c:1", "c:2", "c:3", "c:4:x", "c:5:x"}
	b, _ := p.(cache.BatchGetter)
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				key := keys[(w+i)%len(keys)]
				value := []byte(fmt.Sprintf("%s=%d.%d", key, w, i))
				if err := p.Set(ctx, key, value, time.Hour); err != nil {
					t.Errorf("Set: %v", err)
					return
				}
				value[0] = '!' // Set must have copied it
				v, found, err := p.Get(ctx, key)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				if found && !bytes.HasPrefix(v, []byte(key+"=")) {
					t.Errorf("Get(%q) = %q, a value never written under that key", key, v)
				}
				if _, err := p.Has(ctx, key); err != nil {
					t.Errorf("Has: %v", err)
					return
				}
				if b != nil {
					vs, err := b.GetMany(ctx, keys)
					if err != nil {
						t.Errorf("GetMany: %v", err)
						return
					}
					for j, v := range vs {
						if v != nil && !bytes.HasPrefix(v, []byte(keys[j]+"=")) {
							t.Errorf("GetMany: element %d (%q) = %q", j, keys[j], v)
						}
					}
				}
				switch i % 10 {
				case 3:
					if err := p.Delete(ctx, key); err != nil {
						t.Errorf("Delete: %v", err)
						return
					}
				case 7:
					if _, err := p.DeleteByPrefix(ctx, "c:4"); err != nil {
						t.Errorf("DeleteByPrefix: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// The BatchGetter contract.

func (s *suite) testGetManyMissing(t *testing.T, p cache.Provider) {
	b := batchGetter(t, p)
	vs, err := b.GetMany(t.Context(), []string{"m1", "m2", "m1"})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(vs) != 3 || vs[0] != nil || vs[1] != nil || vs[2] != nil {
		t.Errorf("GetMany of missing keys = %#v, want three nil elements", vs)
	}
	vs, err = b.GetMany(t.Context(), nil)
	if err != nil {
		t.Fatalf("GetMany(nil): %v", err)
	}
	if len(vs) != 0 {
		t.Errorf("GetMany(nil) = %#v, want no elements", vs)
	}
}

func (s *suite) testGetMany(t *testing.T, p cache.Provider) {
	b := batchGetter(t, p)
	set(t, p, "a", "1", 0)
	set(t, p, "b", "2", time.Hour)
	set(t, p, "empty", "", 0)
	set(t, p, "u:\xff", "3", 0)
	keys := []string{"a", "missing", "empty", "b", "a", "u:\xff", "u:"}
	vs, err := b.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	want := [][]byte{[]byte("1"), nil, {}, []byte("2"), []byte("1"), []byte("3"), nil}
	if len(vs) != len(want) {
		t.Fatalf("GetMany returned %d elements for %d keys", len(vs), len(keys))
	}
	for i := range want {
		if (vs[i] == nil) != (want[i] == nil) || !bytes.Equal(vs[i], want[i]) {
			t.Errorf("GetMany element %d (%q) = %#v, want %#v", i, keys[i], vs[i], want[i])
		}
	}
}

// The Guard contract.

func (s *suite) testGuardFresh(t *testing.T, p cache.Provider) {
	g := guard(t, p)
	tok := token(t, g)
	if n := setGuarded(t, g, tok, entry("k", "v"), entry("k2", "")); n != 0 {
		t.Errorf("SetGuarded with a fresh token dropped %d", n)
	}
	wantValue(t, p, "k", "v")
	wantValue(t, p, "k2", "")
	// The token stays good while nothing is invalidated.
	if n := setGuarded(t, g, tok, entry("k", "v2")); n != 0 {
		t.Errorf("second SetGuarded with the same token dropped %d", n)
	}
	wantValue(t, p, "k", "v2")
}

func (s *suite) testGuardEmpty(t *testing.T, p cache.Provider) {
	g := guard(t, p)
	if n := setGuarded(t, g, token(t, g)); n != 0 {
		t.Errorf("SetGuarded with no entries dropped %d", n)
	}
}

func (s *suite) testGuardDelete(t *testing.T, p cache.Provider) {
	g := guard(t, p)
	set(t, p, "k", "old", 0)
	tok := token(t, g)
	del(t, p, "k")
	if n := setGuarded(t, g, tok, entry("k", "stale")); n != 1 {
		t.Errorf("SetGuarded after Delete dropped %d, want 1", n)
	}
	wantMiss(t, p, "k")
	if has(t, p, "k") {
		t.Error("Has(k) = true after a dropped SetGuarded")
	}

	// A key that was never stored is guarded too.
	tok = token(t, g)
	del(t, p, "never")
	if n := setGuarded(t, g, tok, entry("never", "stale")); n != 1 {
		t.Errorf("SetGuarded after Delete of a missing key dropped %d, want 1", n)
	}
	wantMiss(t, p, "never")
}

func (s *suite) testGuardPrefix(t *testing.T, p cache.Provider) {
	for _, tc := range []struct{ prefix, key string }{
		{"a:", "a:b"},
		{"a:b", "a:b"},
		{"", "a:b"},
		{"notifs:u1:", "notifs:u1:x"},
		{"ab:\xff", "ab:\xff\xffz"},
		{"ab:ü", "ab:üz"},
	} {
		t.Run(fmt.Sprintf("prefix %q covers %q", tc.prefix, tc.key), func(t *testing.T) {
			p := s.newProvider(t)
			g := guard(t, p)
			tok := token(t, g)
			delPrefix(t, p, tc.prefix)
			if n := setGuarded(t, g, tok, entry(tc.key, "stale")); n != 1 {
				t.Errorf("dropped %d, want 1", n)
			}
			wantMiss(t, p, tc.key)
		})
	}
}

func (s *suite) testGuardUnrelated(t *testing.T, p cache.Provider) {
	for _, tc := range []struct {
		name       string
		invalidate func(t *testing.T, p cache.Provider)
		key        string
	}{
		{"Delete of another key", func(t *testing.T, p cache.Provider) { del(t, p, "other") }, "k"},
		{"Delete of a key's prefix", func(t *testing.T, p cache.Provider) { del(t, p, "a:") }, "a:b"},
		{"Delete of a longer key", func(t *testing.T, p cache.Provider) { del(t, p, "a:bc") }, "a:b"},
		{"DeleteByPrefix of a longer prefix", func(t *testing.T, p cache.Provider) { delPrefix(t, p, "a:b") }, "a:"},
		{"DeleteByPrefix of a sibling id", func(t *testing.T, p cache.Provider) { delPrefix(t, p, "notifs:u10:") }, "notifs:u1:x"},
		{"DeleteByPrefix of a longer id", func(t *testing.T, p cache.Provider) { delPrefix(t, p, "notifs:u1:") }, "notifs:u10:x"},
		{"DeleteByPrefix differing in the last byte", func(t *testing.T, p cache.Provider) { delPrefix(t, p, "ab:\xfe") }, "ab:\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := s.newProvider(t)
			g := guard(t, p)
			tok := token(t, g)
			tc.invalidate(t, p)
			if n := setGuarded(t, g, tok, entry(tc.key, "fresh")); n != 0 {
				t.Errorf("dropped %d, want 0", n)
			}
			wantValue(t, p, tc.key, "fresh")
		})
	}
}

func (s *suite) testGuardBefore(t *testing.T, p cache.Provider) {
	g := guard(t, p)
	del(t, p, "k")
	delPrefix(t, p, "")
	tok := token(t, g)
	if n := setGuarded(t, g, tok, entry("k", "fresh")); n != 0 {
		t.Errorf("SetGuarded dropped %d for invalidations that happened before its token", n)
	}
	wantValue(t, p, "k", "fresh")
}

func (s *suite) testGuardMixed(t *testing.T, p cache.Provider) {
	g := guard(t, p)
	tok := token(t, g)
	del(t, p, "x:1")
	delPrefix(t, p, "y:")
	del(t, p, "unrelated")
	n := setGuarded(t, g, tok,
		entry("x:1", "stale"),
		entry("x:2", "fresh"),
		entry("y:1", "stale"),
		entry("y", "fresh"),
		entry("z", "fresh"),
		entry("y:2:deep", "stale"),
	)
	if n != 3 {
		t.Errorf("SetGuarded dropped %d, want 3", n)
	}
	for _, k := range []string{"x:1", "y:1", "y:2:deep"} {
		wantMiss(t, p, k)
	}
	for _, k := range []string{"x:2", "y", "z"} {
		wantValue(t, p, k, "fresh")
	}
	dropped, err := g.SetGuarded(t.Context(), tok, []cache.Entry{entry("x:2", "again"), entry("x:1", "stale"), entry("z", "again")})
	if err != nil || len(dropped) != 1 || dropped[0] != 1 {
		t.Errorf("SetGuarded dropped indexes %v, %v; want [1] (the x:1 entry)", dropped, err)
	}
}

func (s *suite) testGuardTTL(t *testing.T, p cache.Provider) {
	g := guard(t, p)
	ttl := s.ttl()
	tok := token(t, g)
	setGuarded(t, g, tok,
		cache.Entry{Key: "short", Value: []byte("v"), TTL: ttl},
		cache.Entry{Key: "forever", Value: []byte("v")},
	)
	wantValue(t, p, "forever", "v")
	s.expire(t, p, "short", ttl)
	wantMiss(t, p, "short")
	wantValue(t, p, "forever", "v")
}
