package cache

import (
	"sync/atomic"
	"unsafe"
)

// op names a provider operation, for error counts and OnError.
type op int

const (
	opGet op = iota
	opSet
	opDelete
	opDeleteByPrefix
	numOps
)

func (o op) String() string {
	switch o {
	case opGet:
		return "get"
	case opSet:
		return "set"
	case opDelete:
		return "delete"
	default:
		return "deleteByPrefix"
	}
}

// Stats is a snapshot of a scope's counters since it was created.
type Stats struct {
	Hits        uint64 // reads answered from the provider
	Misses      uint64 // reads (per key) the provider could not answer
	Loads       uint64 // loader calls (a batched call counts once)
	SharedWaits uint64 // misses that joined a load already in flight
	// StaleWritesDropped counts loaded values not stored because an
	// invalidation covering their key happened while they loaded.
	StaleWritesDropped uint64
	LoadErrors         uint64 // loader calls that failed (panics included)
	Panics             uint64 // loader calls that panicked

	// Provider errors by operation.
	GetErrors            uint64
	SetErrors            uint64
	DeleteErrors         uint64
	DeleteByPrefixErrors uint64
}

// Stats returns the scope's counters. It is cheap: a few atomic loads.
func (s *Scope) Stats() Stats {
	c := &s.stats
	return Stats{
		Hits:                 c.hits.load(),
		Misses:               c.misses.Load(),
		Loads:                c.loads.Load(),
		SharedWaits:          c.shared.Load(),
		StaleWritesDropped:   c.stale.Load(),
		LoadErrors:           c.loadErrors.Load(),
		Panics:               c.panics.Load(),
		GetErrors:            c.errors[opGet].Load(),
		SetErrors:            c.errors[opSet].Load(),
		DeleteErrors:         c.errors[opDelete].Load(),
		DeleteByPrefixErrors: c.errors[opDeleteByPrefix].Load(),
	}
}

type counters struct {
	hits       stripedCounter // the hot one: every hit adds to it
	misses     atomic.Uint64
	loads      atomic.Uint64
	shared     atomic.Uint64
	stale      atomic.Uint64
	loadErrors atomic.Uint64
	panics     atomic.Uint64
	errors     [numOps]atomic.Uint64
}

// stripedCounter spreads increments over cache lines so that parallel hits
// on several cores do not fight over one line. A goroutine picks its cell
// from the address of its own stack, which stays put while it runs, so a
// goroutine keeps to one cell (and one core's cache) instead of touching
// them all.
type stripedCounter struct {
	cells [16]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

func (c *stripedCounter) add() {
	var marker byte
	i := uintptr(unsafe.Pointer(&marker)) >> 13 // goroutine stacks are at least 8 KiB apart
	c.cells[(i^i>>4)&15].n.Add(1)
}

func (c *stripedCounter) load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}
