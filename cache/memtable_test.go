package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tableEntries returns the live entries in sh's table and the number of
// its tombstones.
func tableEntries(sh *memShard) (entries []*memEntry, dead int) {
	t := sh.tab.Load()
	for i := range t.slots {
		switch e := t.slots[i].Load(); e {
		case nil:
		case tombstone:
			dead++
		default:
			entries = append(entries, e)
		}
	}
	return entries, dead
}

// checkTable fails t unless every entry in sh's table is found from its
// first slot with no empty slot on the way, and the table has an empty
// slot.
func checkTable(t *testing.T, sh *memShard) {
	t.Helper()
	tab := sh.tab.Load()
	empty := false
	for i := range tab.slots {
		e := tab.slots[i].Load()
		if e == nil {
			empty = true
			continue
		}
		if e == tombstone {
			continue
		}
		for j := e.hash >> tab.shift; j != uint64(i); j = (j + 1) & tab.mask {
			if tab.slots[j].Load() == nil {
				t.Fatalf("slot %d is empty between %q's first slot %d and its slot %d", j, e.key, e.hash>>tab.shift, i)
			}
		}
		if tab.find(e.hash, e.key) != e {
			t.Fatalf("find(%q) does not return its entry", e.key)
		}
	}
	if !empty {
		t.Fatal("the table has no empty slot: a probe for a missing key would not end")
	}
}

func TestMemoryTableAgreesWithAMap(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{MaxEntries: 500}) // one shard, and room for every key
	if len(m.shards) != 1 {
		t.Fatalf("%d shards, want 1", len(m.shards))
	}
	sh := &m.shards[0]
	want := make(map[string]string)
	// Random sets and deletes over 300 keys, and a window of 100 keys that
	// slides by one key each op (which leaves tombstones behind).
	var keys []string
	for j := range 300 {
		keys = append(keys, fmt.Sprint("k", j))
	}
	r := rand.New(rand.NewPCG(1, 2))
	grown, purged := 0, 0 // rebuilds to a larger table, and to one no larger
	for i := range 5000 {
		tab := sh.tab.Load()
		k := keys[r.IntN(len(keys))]
		switch op := r.IntN(10); {
		case op < 6:
			v := fmt.Sprint(i)
			m.Set(ctx, k, []byte(v), 0)
			want[k] = v
		case op < 9:
			m.Delete(ctx, k)
			delete(want, k)
		default:
			p := fmt.Sprint("k", r.IntN(30))
			m.DeleteByPrefix(ctx, p)
			for k := range want {
				if strings.HasPrefix(k, p) {
					delete(want, k)
				}
			}
		}
		in, out := fmt.Sprint("w", i), fmt.Sprint("w", i-100)
		m.Set(ctx, in, []byte(in), 0)
		want[in] = in
		m.Delete(ctx, out)
		delete(want, out)

		if nt := sh.tab.Load(); nt != tab {
			if len(nt.slots) > len(tab.slots) {
				grown++
			} else {
				purged++
			}
		}
		for _, k := range append(keys[:len(keys):len(keys)], out, in) {
			got, ok, _ := m.Get(ctx, k)
			if v, stored := want[k]; ok != stored || string(got) != v {
				t.Fatalf("after op %d, Get(%s) = %q, %v; want %q, %v", i, k, got, ok, v, stored)
			}
		}
		if m.Len() != len(want) {
			t.Fatalf("after op %d, Len = %d, want %d", i, m.Len(), len(want))
		}
		checkTable(t, sh)
	}
	if grown == 0 {
		t.Fatal("the table never grew; the test should exercise rebuilds")
	}
	t.Logf("the table grew %d times and was rebuilt no larger %d times", grown, purged)
}

// With the hashes chosen, keys collide in four clusters, at the same places
// whatever the table's size, and the run is the same every time. Each key
// is new; the cluster new keys go to changes every 64 of them, while
// deletes fall on random keys, so tombstones are left where no insert
// reuses them, and the table is rebuilt both larger and no larger.
func TestMemoryTableWithCollidingKeys(t *testing.T) {
	sh := &memShard{}
	sh.tab.Store(newMemTable(minTableSlots))
	var live, gone []*memEntry
	r := rand.New(rand.NewPCG(3, 4))
	grown, purged := 0, 0
	for i := range 5000 {
		tab := sh.tab.Load()
		e := &memEntry{hash: uint64(i/64%4) << 62, key: fmt.Sprint("k", i)}
		if old := sh.put(e); old != nil {
			t.Fatalf("put(%s) replaced %s", e.key, old.key)
		}
		live = append(live, e)
		for len(live) > 60 {
			j := r.IntN(len(live))
			sh.drop(live[j])
			gone = append(gone, live[j])
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
		}
		if nt := sh.tab.Load(); nt != tab {
			if len(nt.slots) > len(tab.slots) {
				grown++
			} else {
				purged++
			}
		}
		for _, e := range live {
			if got := sh.tab.Load().find(e.hash, e.key); got != e {
				t.Fatalf("after op %d, find(%s) = %p, want %p", i, e.key, got, e)
			}
		}
		for _, e := range gone[max(0, len(gone)-100):] {
			if got := sh.tab.Load().find(e.hash, e.key); got != nil {
				t.Fatalf("after op %d, find(%s) found it after its drop", i, e.key)
			}
		}
		if entries, dead := tableEntries(sh); len(entries) != len(live) || len(entries) != sh.live || dead != sh.dead {
			t.Fatalf("after op %d: table holds %d entries and %d tombstones, shard counts %d and %d, want %d entries",
				i, len(entries), dead, sh.live, sh.dead, len(live))
		}
		checkTable(t, sh)
	}
	if grown == 0 || purged == 0 {
		t.Fatalf("the table grew %d times and was rebuilt no larger %d times; the test should do both", grown, purged)
	}
	t.Logf("the table grew %d times and was rebuilt no larger %d times", grown, purged)
}

// The invariant in the package doc, "a read concurrent with a Set of the
// same key returns the old value or the new one, never a miss", and that
// a table being rebuilt stays readable: readers of keys that are always
// present never miss while those keys are overwritten and others come
// and go (which rebuilds the table and fills it with tombstones).
func TestMemoryReadsDuringWritesNeverMissAPresentKey(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{MaxEntries: 1 << 20})
	const stable = 64
	for i := range stable {
		m.Set(ctx, fmt.Sprint("stable:", i), []byte("v"), 0)
	}
	var stop atomic.Bool
	var misses, reads atomic.Int64
	var wg, running sync.WaitGroup
	running.Add(2)
	for g := range 2 {
		wg.Go(func() {
			running.Done()
			for i := g; !stop.Load(); i++ {
				if _, ok, _ := m.Get(ctx, fmt.Sprint("stable:", i%stable)); !ok {
					misses.Add(1)
				}
				reads.Add(1)
			}
		})
	}
	running.Wait() // the readers are under way before the writes start
	for round := range 200 {
		for i := range stable {
			m.Set(ctx, fmt.Sprint("stable:", i), []byte(fmt.Sprint(round)), 0)
		}
		for i := range 200 {
			m.Set(ctx, fmt.Sprint("churn:", round, ":", i), []byte("x"), 0)
		}
		if round%2 == 1 {
			m.DeleteByPrefix(ctx, "churn:")
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := misses.Load(); n != 0 {
		t.Fatalf("%d of %d reads of present keys missed", n, reads.Load())
	}
}

func TestMemoryReadAfterDeleteMisses(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	p := m.prefix("k:")
	for i := range 1000 {
		k := fmt.Sprint("k:", i)
		m.Set(ctx, k, []byte("v"), 0)
		if _, ok := m.getPrefixed(p, fmt.Sprint(i)); !ok {
			t.Fatalf("%s missing after Set", k)
		}
		m.Delete(ctx, k)
		if _, ok := m.getPrefixed(p, fmt.Sprint(i)); ok {
			t.Fatalf("%s found after Delete", k)
		}
	}
}

// The package doc: "a value is not served once its TTL has passed", not
// even a tick of a coarser clock later. The test waits on the monotonic clock, not a sleep; on a
// busy machine the read only comes later, further past the TTL.
func TestAnEntryIsNotServedOnceItsTTLHasPassed(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	const ttl = time.Millisecond
	loads := 0
	load := func(context.Context) ([]byte, error) { loads++; return []byte("v"), nil }
	for i := range 20 {
		k := fmt.Sprint("k", i)
		WrapBytes(ctx, s, k, load, TTL(ttl))
		stored := time.Now()
		for time.Since(stored) <= ttl {
		}
		before := loads
		WrapBytes(ctx, s, k, load, TTL(ttl))
		if loads != before+1 {
			t.Fatalf("a read %v after storing %s with TTL %v was served from the cache", time.Since(stored), k, ttl)
		}
	}
}
