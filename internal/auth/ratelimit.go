package auth

import (
	"slices"
	"sync"
	"time"
)

// maxTrackedKeys bounds how many accounts, and how many addresses, the
// limiter remembers. When one table is full, entries with no failure in the
// window are dropped first; if that is not enough, arbitrary entries are
// dropped (forgetting some counts early) until a tenth of the table is
// free, so that the memory stays bounded whatever is thrown at it.
const maxTrackedKeys = 10000

// limiter counts failed logins per account and per address over a sliding
// window, in memory (invariant 1 of the package doc).
type limiter struct {
	window              time.Duration
	perAccount, perAddr int

	mu        sync.Mutex
	accounts  failures
	addresses failures
}

// failures maps a key to the times of its latest failures, oldest first,
// at most limit of them (older ones cannot change the answer).
type failures struct {
	limit int
	m     map[string][]time.Time
}

func newLimiter(window time.Duration, perAccount, perAddr int) *limiter {
	return &limiter{
		window:     window,
		perAccount: perAccount,
		perAddr:    perAddr,
		accounts:   failures{limit: perAccount, m: make(map[string][]time.Time)},
		addresses:  failures{limit: perAddr, m: make(map[string][]time.Time)},
	}
}

// begin counts an attempt by account from addr at now as a failure, before
// its password is checked, and reports true; or, if either is already at
// its limit, counts nothing and reports false. A successful attempt is
// uncounted with succeeded.
func (l *limiter) begin(account, addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	since := now.Add(-l.window)
	if l.accounts.count(account, since) >= l.perAccount || l.addresses.count(addr, since) >= l.perAddr {
		return false
	}
	l.accounts.add(account, now, since)
	l.addresses.add(addr, now, since)
	return true
}

// succeeded undoes begin(account, addr, at) for an attempt that succeeded:
// the account's count starts over, and the attempt no longer counts
// against the address.
func (l *limiter) succeeded(account, addr string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.accounts.m, account)
	l.addresses.remove(addr, at)
}

// abandon undoes begin(account, addr, at) for an attempt that could not
// be checked (the database failed): it counts against neither.
func (l *limiter) abandon(account, addr string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accounts.remove(account, at)
	l.addresses.remove(addr, at)
}

// count is the number of failures of key after since.
func (f *failures) count(key string, since time.Time) int {
	ts := f.m[key]
	i, _ := slices.BinarySearchFunc(ts, since, func(t, s time.Time) int {
		if t.After(s) {
			return 1
		}
		return -1
	})
	return len(ts) - i
}

func (f *failures) add(key string, at, since time.Time) {
	ts, ok := f.m[key]
	if !ok && len(f.m) >= maxTrackedKeys {
		f.prune(since)
	}
	if len(ts) >= f.limit {
		ts = slices.Delete(ts, 0, len(ts)-f.limit+1)
	}
	// Times from a clock that steps back are kept in order anyway.
	i, _ := slices.BinarySearchFunc(ts, at, func(t, a time.Time) int { return t.Compare(a) })
	f.m[key] = slices.Insert(ts, i, at)
}

func (f *failures) remove(key string, at time.Time) {
	ts := f.m[key]
	if i := slices.IndexFunc(ts, func(t time.Time) bool { return t.Equal(at) }); i >= 0 {
		ts = slices.Delete(ts, i, i+1)
	}
	if len(ts) == 0 {
		delete(f.m, key)
		return
	}
	f.m[key] = ts
}

// prune drops keys whose latest failure is not after since, then, if the
// table is still over nine tenths full, arbitrary keys.
func (f *failures) prune(since time.Time) {
	for k, ts := range f.m {
		if len(ts) == 0 || !ts[len(ts)-1].After(since) {
			delete(f.m, k)
		}
	}
	for k := range f.m {
		if len(f.m) <= maxTrackedKeys*9/10 {
			break
		}
		delete(f.m, k)
	}
}
