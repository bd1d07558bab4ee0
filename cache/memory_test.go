package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Provider contract itself is checked by cachetest.Run (see
// cachetest/cachetest_test.go); these tests cover what is Memory's own.

func TestMemoryEviction(t *testing.T) {
	ctx := context.Background()
	set := func(m *Memory, k string) {
		t.Helper()
		if err := m.Set(ctx, k, []byte(k), 0); err != nil {
			t.Fatal(err)
		}
	}
	has := func(m *Memory, k string) bool {
		ok, _ := m.Has(ctx, k)
		return ok
	}

	t.Run("a full cache evicts an entry that was not read, keeping those that were", func(t *testing.T) {
		m := NewMemory(MemoryOptions{MaxEntries: 4})
		for _, k := range []string{"a", "b", "c", "d"} {
			set(m, k)
		}
		m.Get(ctx, "a")
		m.Get(ctx, "b")
		set(m, "e")
		if has(m, "c") || !has(m, "a") || !has(m, "b") || !has(m, "d") || !has(m, "e") {
			t.Fatalf("after evicting one of a(read) b(read) c d: a=%v b=%v c=%v d=%v e=%v; want c gone",
				has(m, "a"), has(m, "b"), has(m, "c"), has(m, "d"), has(m, "e"))
		}
		if m.Len() != 4 {
			t.Fatalf("Len = %d, want 4", m.Len())
		}
	})

	t.Run("an expired entry goes before a live one that was read", func(t *testing.T) {
		clock := newFakeClock()
		m := NewMemory(MemoryOptions{MaxEntries: 3, Now: clock.Now})
		m.Set(ctx, "short", []byte("x"), time.Second)
		set(m, "b")
		set(m, "c")
		m.Get(ctx, "short")
		m.Get(ctx, "b")
		m.Get(ctx, "c")
		clock.Advance(2 * time.Second)
		set(m, "d")
		if !has(m, "b") || !has(m, "c") || !has(m, "d") {
			t.Fatalf("b=%v c=%v d=%v; want the expired entry evicted instead", has(m, "b"), has(m, "c"), has(m, "d"))
		}
	})

	t.Run("the byte bound holds", func(t *testing.T) {
		const maxBytes = 64 << 10
		m := NewMemory(MemoryOptions{MaxEntries: 1 << 20, MaxBytes: maxBytes})
		v := make([]byte, 1000)
		for i := range 1000 {
			if err := m.Set(ctx, fmt.Sprint("k", i), v, 0); err != nil {
				t.Fatal(err)
			}
		}
		var total int64
		for i := range m.shards {
			total += m.shards[i].bytes
		}
		if total > maxBytes {
			t.Fatalf("holds %d bytes, over MaxBytes %d", total, maxBytes)
		}
		if m.Len() < 30 {
			t.Fatalf("holds only %d entries of ~1 KiB in 64 KiB", m.Len())
		}
	})

	t.Run("a value that can never fit is refused", func(t *testing.T) {
		m := NewMemory(MemoryOptions{MaxBytes: 1024})
		if err := m.Set(ctx, "big", make([]byte, 4096), 0); err != ErrTooLarge {
			t.Fatalf("Set = %v, want ErrTooLarge", err)
		}
	})

	t.Run("overwriting and deleting keep the accounting exact", func(t *testing.T) {
		m := NewMemory(MemoryOptions{MaxEntries: 1000})
		for i := range 500 {
			k := fmt.Sprint("k", i%50)
			m.Set(ctx, k, make([]byte, i), 0)
			if i%7 == 0 {
				m.Delete(ctx, k)
			}
		}
		m.DeleteByPrefix(ctx, "k1")
		var want int64
		n := 0
		for i := range m.shards {
			sh := &m.shards[i]
			inTable, dead := tableEntries(sh)
			for _, e := range inTable {
				want += e.size()
				n++
			}
			if len(inTable) != sh.live || dead != sh.dead {
				t.Fatalf("shard %d counts %d entries and %d tombstones; its table holds %d and %d", i, sh.live, sh.dead, len(inTable), dead)
			}
			if sh.keys.Len() != len(inTable) {
				t.Fatalf("shard %d indexes %d keys for %d entries", i, sh.keys.Len(), len(inTable))
			}
			listed := 0
			for e := sh.head; e != nil; e = e.next {
				listed++
			}
			if listed != len(inTable) {
				t.Fatalf("shard %d queue holds %d entries for %d in the table", i, listed, len(inTable))
			}
		}
		var got int64
		for i := range m.shards {
			got += m.shards[i].bytes
		}
		if got != want {
			t.Fatalf("accounted %d bytes, entries hold %d", got, want)
		}
	})
}

func TestMemoryDeleteByPrefixAmongManyKeys(t *testing.T) {
	ctx := context.Background()
	const others = 200_000 // the benchmark uses 1,000,000
	m := NewMemory(MemoryOptions{MaxEntries: 2 * others})
	v := []byte("v")
	for i := range others {
		m.Set(ctx, fmt.Sprintf("other:%d", i), v, 0)
	}
	for i := range 100 {
		m.Set(ctx, fmt.Sprintf("notifs:u1:%d", i), v, 0)
		m.Set(ctx, fmt.Sprintf("notifs:u10:%d", i), v, 0)
	}
	n, err := m.DeleteByPrefix(ctx, "notifs:u1:")
	if err != nil || n != 100 {
		t.Fatalf("DeleteByPrefix = %d, %v; want 100", n, err)
	}
	if got := m.Len(); got != others+100 {
		t.Fatalf("Len = %d, want %d", got, others+100)
	}
	if ok, _ := m.Has(ctx, "notifs:u10:5"); !ok {
		t.Fatal("deleting notifs:u1: removed notifs:u10:5")
	}
}

func TestMemoryConcurrentUse(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{MaxEntries: 512})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				k := fmt.Sprint("k", (i*7+g)%700)
				switch i % 5 {
				case 0:
					m.Set(ctx, k, []byte(k), time.Duration(i%3)*time.Millisecond)
				case 1:
					m.Delete(ctx, k)
				case 2:
					m.DeleteByPrefix(ctx, k)
				default:
					if v, ok, _ := m.Get(ctx, k); ok && string(v) != k {
						t.Errorf("Get(%s) = %q", k, v)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > 512 {
		t.Fatalf("Len = %d, over MaxEntries", n)
	}
}

func TestMemoryPrefixedLookupMatchesGet(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	p := m.prefix("slo:")
	for _, k := range []string{"", "a", "objective:1", "a:b:c", ":", strings.Repeat("x", 500)} {
		m.Set(ctx, "slo:"+k, []byte("v"+k), 0)
		if v, ok := m.getPrefixed(p, k); !ok || string(v) != "v"+k {
			t.Fatalf("getPrefixed(slo:, %.20q) = %q, %v", k, v, ok)
		}
		// The fast path hashes the prefix and the key apart; Get splits
		// the key at its first ':'. They must agree.
		if got, want := m.hashParts(p.h, k), m.hash("slo:"+k); got != want {
			t.Fatalf("hash of slo: and %.20q = %x, hash of the joined key = %x", k, got, want)
		}
	}
	if _, ok := m.getPrefixed(m.prefix("sl:"), "o:a"); ok {
		t.Fatal("getPrefixed(sl:, o:a) found slo:a's entry")
	}
	for _, bad := range []string{"", "slo", "a:b:", ":slo"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("prefix(%q) did not panic", bad)
				}
			}()
			m.prefix(bad)
		}()
	}
}

func TestWrapBytesHitDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	load := func(context.Context) ([]byte, error) { return []byte(`{"ok":true}`), nil }
	WrapBytes(ctx, s, "system:abc", load)
	allocs := testing.AllocsPerRun(1000, func() {
		WrapBytes(ctx, s, "system:abc", load)
	})
	if allocs != 0 {
		t.Fatalf("a WrapBytes hit allocates %v times", allocs)
	}
}
