package cache

import "sync/atomic"

// memTable is a shard's index from key to entry, read without a lock: open
// addressing with linear probing over slots that are atomic pointers.
//
// Writers hold the shard's lock, and change what readers see with one
// atomic store each: an entry into an empty slot (insert), a new entry over
// the old one in its slot (overwrite), or the tombstone over it (delete).
// So a lookup concurrent with a write finds the state before it or after
// it, and an overwrite is never seen as a miss. A lookup that starts after
// a write returned finds the write.
//
// A table is never allowed to fill: before an insert would take the
// occupied and dead slots past three quarters, the shard builds a new table
// with the live entries only, under its lock, and publishes it with one
// atomic store; the old table is not written again, so a lookup still on it
// sees the shard as it was when the new one was published. Every table has
// an empty slot, which ends every probe.
//
// The invariant the probes rely on: between an entry's first slot (from
// its hash) and the slot it is in, no slot is empty. Inserts keep it (an
// insert takes the first free slot on its own probe); deletes keep it by
// leaving a tombstone, except in a slot whose next slot is empty: no probe
// goes on past such a slot, so it is emptied outright, with the tombstones
// just before it.
type memTable struct {
	slots []atomic.Pointer[memEntry]
	mask  uint64
	shift uint8 // 64 - log2(len(slots)): a hash's top bits pick its first slot
}

// tombstone fills the slot of a deleted entry: a probe goes on past it.
var tombstone = new(memEntry)

const minTableSlots = 8

func newMemTable(slots int) *memTable {
	bits := uint8(0)
	for 1<<bits < slots {
		bits++
	}
	return &memTable{
		slots: make([]atomic.Pointer[memEntry], 1<<bits),
		mask:  1<<bits - 1,
		shift: 64 - bits,
	}
}

// find returns the entry for key, whose hash is h, or nil. It takes no
// lock and writes nothing. A probe ends at an empty slot, and in any case
// after one lap of the table: writers changing the table under a reader
// cannot keep it going, and a key present for the whole read is found
// within a lap (a miss is otherwise a valid answer: the read overlapped a
// change).
func (t *memTable) find(h uint64, key string) *memEntry {
	for i, n := h>>t.shift, 0; n < len(t.slots); i, n = (i+1)&t.mask, n+1 {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e.hash == h && e.key == key && e != tombstone {
			return e
		}
	}
	return nil
}

// findParts is find(h, prefix+rest) without building the string.
func (t *memTable) findParts(h uint64, prefix, rest string) *memEntry {
	return t.findParts3(h, prefix, "", rest)
}

// findParts3 is find(h, prefix+mid+rest) without building the string.
func (t *memTable) findParts3(h uint64, prefix, mid, rest string) *memEntry {
	n := len(prefix) + len(mid) + len(rest)
	for i, probes := h>>t.shift, 0; probes < len(t.slots); i, probes = (i+1)&t.mask, probes+1 {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e.hash == h && len(e.key) == n && e.key[len(prefix)+len(mid):] == rest &&
			e.key[len(prefix):len(prefix)+len(mid)] == mid && e.key[:len(prefix)] == prefix && e != tombstone {
			return e
		}
	}
	return nil
}

// put stores e, in place of the entry of the same key if there is one,
// which it returns. The caller holds sh.mu.
func (sh *memShard) put(e *memEntry) (old *memEntry) {
	t := sh.tab.Load()
	free := -1 // the first tombstone on e's probe: where a new key goes
	for i := e.hash >> t.shift; ; i = (i + 1) & t.mask {
		c := t.slots[i].Load()
		switch {
		case c == nil:
			if free < 0 && (sh.live+sh.dead+1)*4 > len(t.slots)*3 {
				t = sh.rebuild(sh.live + 1)
				i = e.hash >> t.shift
				for t.slots[i].Load() != nil {
					i = (i + 1) & t.mask
				}
			}
			if free >= 0 {
				i = uint64(free)
				sh.dead--
			}
			t.slots[i].Store(e)
			sh.live++
			return nil
		case c == tombstone:
			if free < 0 {
				free = int(i)
			}
		case c.hash == e.hash && c.key == e.key:
			t.slots[i].Store(e)
			return c
		}
	}
}

// drop takes e out of the table. The caller holds sh.mu, and e is in it.
func (sh *memShard) drop(e *memEntry) {
	t := sh.tab.Load()
	i := e.hash >> t.shift
	for t.slots[i].Load() != e {
		i = (i + 1) & t.mask
	}
	sh.live--
	if t.slots[(i+1)&t.mask].Load() != nil {
		t.slots[i].Store(tombstone)
		sh.dead++
		return
	}
	// No probe goes on past i, nor past the tombstones just before it.
	for {
		t.slots[i].Store(nil)
		i = (i - 1) & t.mask
		if t.slots[i].Load() != tombstone {
			return
		}
		sh.dead--
	}
}

// rebuild publishes a new table holding the live entries, with room for
// n of them at half load, and returns it. The caller holds sh.mu.
func (sh *memShard) rebuild(n int) *memTable {
	old := sh.tab.Load()
	t := newMemTable(max(minTableSlots, 2*n))
	for i := range old.slots {
		e := old.slots[i].Load()
		if e == nil || e == tombstone {
			continue
		}
		j := e.hash >> t.shift
		for t.slots[j].Load() != nil {
			j = (j + 1) & t.mask
		}
		t.slots[j].Store(e)
	}
	sh.tab.Store(t)
	sh.dead = 0
	return t
}
