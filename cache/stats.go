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

// Stats returns the scope's counters. It is cheap: atomic loads (one per
// hit counter cell, and one per other counter), no lock.
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
// from the address of its own stack, which stays put while it runs (a stack
// that grows moves, and its goroutine then keeps to another cell), so a
// goroutine keeps to one cell and one core's cache instead of touching them
// all. Every increment is an atomic add to some cell, and load sums them
// all, so no increment is lost, however goroutines share cells.
type stripedCounter struct {
	_     [56]byte // nothing else on the first cell's line
	cells [counterCells]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

const (
	counterCellBits = 6
	counterCells    = 1 << counterCellBits
)

func (c *stripedCounter) add() {
	var marker byte
	c.cells[counterCell(uintptr(unsafe.Pointer(&marker)))].n.Add(1)
}

// addN adds n with one atomic add: a bulk read's hits.
func (c *stripedCounter) addN(n uint64) {
	if n == 0 {
		return
	}
	var marker byte
	c.cells[counterCell(uintptr(unsafe.Pointer(&marker)))].n.Add(n)
}

// counterCell picks the cell for a stack address. The bits below 2 KiB,
// the smallest stack, depend on the call depth rather than the goroutine,
// so they are dropped; neighbouring stacks then differ by a small power of
// two, and the multiplication by 2^64/φ (Fibonacci hashing) spreads such
// neighbours over the top bits, which pick the cell.
func counterCell(sp uintptr) uint64 {
	return uint64(sp>>11) * 0x9e3779b97f4a7c15 >> (64 - counterCellBits)
}

func (c *stripedCounter) load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}
