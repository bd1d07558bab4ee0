package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	const window = 15 * time.Minute

	t.Run("an account is refused at its limit and let in once the window slides past", func(t *testing.T) {
		l := newLimiter(window, 3, 100)
		for i := range 3 {
			if !l.begin("a@x", fmt.Sprintf("addr%d", i), t0.Add(time.Duration(i)*time.Minute)) {
				t.Fatalf("attempt %d refused", i)
			}
		}
		if l.begin("a@x", "other", t0.Add(5*time.Minute)) {
			t.Fatal("the fourth attempt in the window was let in")
		}
		if !l.begin("b@x", "other", t0.Add(5*time.Minute)) {
			t.Fatal("another account was refused")
		}
		// The first failure leaves the window at t0+15m; one slot opens.
		if !l.begin("a@x", "other", t0.Add(window+time.Second)) {
			t.Fatal("refused after the oldest failure left the window")
		}
		if l.begin("a@x", "other", t0.Add(window+2*time.Second)) {
			t.Fatal("two attempts let in when one slot opened")
		}
	})

	t.Run("a success clears the account and uncounts itself from the address", func(t *testing.T) {
		l := newLimiter(window, 2, 3)
		l.begin("a@x", "ip", t0)
		l.begin("a@x", "ip", t0.Add(time.Second))
		l.succeeded("a@x", "ip", t0.Add(time.Second))
		if got := l.accounts.count("a@x", t0.Add(-window)); got != 0 {
			t.Errorf("account count after success = %d, want 0", got)
		}
		if got := l.addresses.count("ip", t0.Add(-window)); got != 1 {
			t.Errorf("address count after success = %d, want 1", got)
		}
	})

	t.Run("an attempt that could not be checked counts against neither", func(t *testing.T) {
		l := newLimiter(window, 2, 3)
		l.begin("a@x", "ip", t0)
		l.begin("a@x", "ip", t0.Add(time.Second))
		l.abandon("a@x", "ip", t0.Add(time.Second))
		since := t0.Add(-window)
		if a, b := l.accounts.count("a@x", since), l.addresses.count("ip", since); a != 1 || b != 1 {
			t.Errorf("counts after abandon = %d, %d; want 1, 1", a, b)
		}
	})

	t.Run("memory stays bounded however many keys are seen", func(t *testing.T) {
		l := newLimiter(window, 5, 5)
		for i := range 3 * maxTrackedKeys {
			// All within one window: nothing expires, so entries must be
			// evicted.
			l.begin(fmt.Sprintf("user%d@x", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0.Add(time.Duration(i)*time.Millisecond))
		}
		if n := len(l.accounts.m); n > maxTrackedKeys {
			t.Errorf("%d accounts tracked, want at most %d", n, maxTrackedKeys)
		}
		if n := len(l.addresses.m); n > maxTrackedKeys {
			t.Errorf("%d addresses tracked, want at most %d", n, maxTrackedKeys)
		}
	})

	t.Run("expired entries are dropped before live ones", func(t *testing.T) {
		f := failures{limit: 5, m: make(map[string][]time.Time)}
		for i := range maxTrackedKeys {
			f.add(fmt.Sprintf("old%d@x", i), t0, t0.Add(-window))
		}
		later := t0.Add(2 * window)
		since := later.Add(-window)
		f.add("live@x", later, since)
		for i := range maxTrackedKeys / 2 {
			f.add(fmt.Sprintf("new%d@x", i), later, since)
		}
		if got := f.count("live@x", since); got != 1 {
			t.Errorf("live account's count = %d, want 1", got)
		}
		if n := len(f.m); n != 1+maxTrackedKeys/2 {
			t.Errorf("%d keys tracked, want %d", n, 1+maxTrackedKeys/2)
		}
		for k := range f.m {
			if k[:3] == "old" {
				t.Fatalf("expired entry %s kept", k)
			}
		}
	})

	t.Run("a key keeps at most its limit of timestamps", func(t *testing.T) {
		l := newLimiter(window, 3, 1000)
		for i := range 10 {
			l.accounts.add("a@x", t0.Add(time.Duration(i)*time.Second), t0.Add(-window))
		}
		if n := len(l.accounts.m["a@x"]); n != 3 {
			t.Errorf("%d timestamps kept, want 3", n)
		}
	})
}
