package signal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/checkstack/checkstack/internal/signal"
)

// Invariant 1: sending never waits for a subscriber.
func TestSendingNeverWaitsForASubscriber(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{Buffer: 2})
	stuck := hub.Subscribe("") // never reads
	reader := hub.Subscribe("")

	// The sender takes each event from the reader before sending the next,
	// so the reader keeps up with a buffer of 2 while the stuck one does
	// not. If a send waited for the stuck subscriber, the loop would hang
	// on the third send; it runs in a goroutine so that the test fails
	// instead.
	done := make(chan struct{})
	var got []int
	var sendErr error
	go func() {
		defer close(done)
		for i := range 1000 {
			if err := hub.Broadcast(ctx, "TICK", i); err != nil {
				sendErr = err
				return
			}
			ev, ok := <-reader.Events()
			if !ok {
				sendErr = errors.New("the reading subscriber was dropped")
				return
			}
			var n int
			if err := json.Unmarshal(ev.Payload, &n); err != nil {
				sendErr = err
				return
			}
			got = append(got, n)
		}
	}()
	// Cleaning up is left until the sends are known to return: a send
	// stuck holding the hub's lock would hang Close, not fail the test.
	wait(t, "1000 broadcasts with a subscriber that does not read", done)
	defer hub.Close()
	defer stuck.Close()
	defer reader.Close()
	if sendErr != nil {
		t.Fatal(sendErr)
	}

	if len(got) != 1000 {
		t.Fatalf("the reading subscriber got %d events, want 1000", len(got))
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("event %d has payload %d", i, n)
		}
	}
	if !stuck.Dropped() {
		t.Error("the subscriber that does not read was not dropped")
	}
	if rest := ended(t, stuck); len(rest) != 2 {
		t.Errorf("the dropped subscriber had %d events buffered, want its buffer's 2", len(rest))
	}
	if reader.Dropped() {
		t.Error("the reading subscriber was dropped")
	}
	if n := hub.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d after the drop, want 1", n)
	}
}

// Invariant 1, for user signals, and without any reader at all.
func TestSendToUserNeverWaitsForASubscriber(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{Buffer: 1})
	sub := hub.Subscribe("alice")

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			if err := hub.SendToUser(ctx, "NOTIFIED", "alice", nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wait(t, "1000 user signals to a subscriber that does not read", done)
	defer hub.Close() // only now: see TestSendingNeverWaitsForASubscriber
	defer sub.Close()
	if !sub.Dropped() {
		t.Error("the subscriber was not dropped")
	}
}

func TestZeroBufferHolds64Events(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	sub := hub.Subscribe("")
	defer sub.Close()

	for range 64 {
		if err := hub.Broadcast(ctx, "TICK", nil); err != nil {
			t.Fatal(err)
		}
	}
	if sub.Dropped() {
		t.Fatal("dropped with 64 events buffered")
	}
	if err := hub.Broadcast(ctx, "TICK", nil); err != nil {
		t.Fatal(err)
	}
	if !sub.Dropped() {
		t.Fatal("not dropped by the 65th event")
	}
}

// Invariant 2: a user signal reaches only that user; a broadcast, everyone.
func TestUserSignalsReachOnlyTheirUser(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()

	subs := map[string]*signal.Subscription{
		"alice (first tab)":  hub.Subscribe("alice"),
		"alice (second tab)": hub.Subscribe("alice"),
		"bob":                hub.Subscribe("bob"),
		"alice2":             hub.Subscribe("alice2"), // a user whose ID extends alice's
		"anonymous":          hub.Subscribe(""),
	}
	for _, s := range subs {
		defer s.Close()
	}

	must(t, hub.SendToUser(ctx, "FOR_ALICE", "alice", nil))
	must(t, hub.Broadcast(ctx, "FOR_ALL", nil))
	must(t, hub.SendToUser(ctx, "FOR_BOB", "bob", nil))
	must(t, hub.SendToUser(ctx, "FOR_NOBODY_HERE", "carol", nil))
	must(t, hub.Broadcast(ctx, "FENCE", nil))

	want := map[string][]string{
		"alice (first tab)":  {"FOR_ALICE", "FOR_ALL"},
		"alice (second tab)": {"FOR_ALICE", "FOR_ALL"},
		"bob":                {"FOR_ALL", "FOR_BOB"},
		"alice2":             {"FOR_ALL"},
		"anonymous":          {"FOR_ALL"},
	}
	for name, s := range subs {
		t.Run(name+" gets exactly its signals", func(t *testing.T) {
			if got := signalsUntil(t, s, "FENCE"); !slices.Equal(got, want[name]) {
				t.Errorf("got %v, want %v", got, want[name])
			}
		})
	}
}

func TestUserSignalsCarryTheirUser(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	sub := hub.Subscribe("alice")
	defer sub.Close()

	must(t, hub.SendToUser(context.Background(), "FOR_ALICE", "alice", map[string]string{"id": "n1"}))
	must(t, hub.Broadcast(context.Background(), "FOR_ALL", nil))
	if ev := recv(t, sub); ev.UserID != "alice" || string(ev.Payload) != `{"id":"n1"}` {
		t.Errorf("user event = %+v", ev)
	}
	if ev := recv(t, sub); ev.UserID != "" || string(ev.Payload) != `{}` {
		t.Errorf("broadcast event = %+v", ev)
	}
}

// Invariant 3: events from one goroutine arrive in order.
func TestEventsArriveInTheOrderSent(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{Buffer: 2000})
	defer hub.Close()
	sub := hub.Subscribe("alice")
	defer sub.Close()

	// Broadcasts and user signals interleaved share one order.
	for i := range 1000 {
		if i%3 == 0 {
			must(t, hub.SendToUser(ctx, "S"+strconv.Itoa(i), "alice", nil))
		} else {
			must(t, hub.Broadcast(ctx, "S"+strconv.Itoa(i), nil))
		}
	}
	for i := range 1000 {
		if ev := recv(t, sub); ev.Signal != "S"+strconv.Itoa(i) {
			t.Fatalf("event %d is %s", i, ev.Signal)
		}
	}
}

// Invariant 3: events sent concurrently are seen in one order by everyone.
func TestConcurrentSendsAreSeenInOneOrder(t *testing.T) {
	ctx := context.Background()
	const senders, each = 4, 250
	hub := signal.NewHub(signal.HubOptions{Buffer: senders * each})
	defer hub.Close()
	a, b := hub.Subscribe(""), hub.Subscribe("")
	defer a.Close()
	defer b.Close()

	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := hub.Broadcast(ctx, fmt.Sprintf("G%d-%d", g, i), nil); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	var seqA, seqB []string
	for range senders * each {
		seqA = append(seqA, recv(t, a).Signal)
		seqB = append(seqB, recv(t, b).Signal)
	}
	if !slices.Equal(seqA, seqB) {
		t.Fatal("two subscribers saw concurrent broadcasts in different orders")
	}
	// Each sender's own events are in its order.
	next := make([]int, senders)
	for _, s := range seqA {
		var g, i int
		if _, err := fmt.Sscanf(s, "G%d-%d", &g, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[g] {
			t.Fatalf("sender %d: got event %d, want %d", g, i, next[g])
		}
		next[g]++
	}
}

// Invariant 4: Close ends everything, once.
func TestHubClose(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{})
	subs := []*signal.Subscription{hub.Subscribe(""), hub.Subscribe("alice"), hub.Subscribe("alice"), hub.Subscribe("bob")}
	must(t, hub.Broadcast(ctx, "BEFORE", nil))

	hub.Close()

	t.Run("every Events channel is closed, after what was buffered", func(t *testing.T) {
		for i, s := range subs {
			rest := ended(t, s)
			if len(rest) != 1 || rest[0].Signal != "BEFORE" {
				t.Errorf("subscription %d: buffered %v, want the one event sent before Close", i, rest)
			}
			if s.Dropped() {
				t.Errorf("subscription %d: Dropped() after Close, want false", i)
			}
		}
	})
	t.Run("no subscriptions are left", func(t *testing.T) {
		if n := hub.Subscribers(); n != 0 {
			t.Errorf("Subscribers() = %d, want 0", n)
		}
	})
	t.Run("Close again does nothing", func(t *testing.T) {
		hub.Close()
		subs[0].Close()
	})
	t.Run("a later subscription is born closed", func(t *testing.T) {
		s := hub.Subscribe("alice")
		if rest := ended(t, s); len(rest) != 0 {
			t.Errorf("got %v", rest)
		}
		s.Close()
		if n := hub.Subscribers(); n != 0 {
			t.Errorf("Subscribers() = %d, want 0", n)
		}
	})
	t.Run("sends do nothing and return nil", func(t *testing.T) {
		if err := hub.Broadcast(ctx, "AFTER", nil); err != nil {
			t.Errorf("Broadcast: %v", err)
		}
		if err := hub.SendToUser(ctx, "AFTER", "alice", nil); err != nil {
			t.Errorf("SendToUser: %v", err)
		}
	})
}

func TestSubscriptionClose(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	kept, closed := hub.Subscribe("alice"), hub.Subscribe("alice")
	defer kept.Close()

	closed.Close()
	closed.Close() // idempotent
	if n := hub.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d, want 1", n)
	}
	if rest := ended(t, closed); len(rest) != 0 {
		t.Errorf("closed subscription got %v", rest)
	}
	if closed.Dropped() {
		t.Error("Dropped() after Close, want false")
	}
	must(t, hub.SendToUser(ctx, "AFTER", "alice", nil))
	if ev := recv(t, kept); ev.Signal != "AFTER" {
		t.Errorf("the other subscription got %s", ev.Signal)
	}
}

func TestCloseAfterDropDoesNothing(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{Buffer: 1})
	defer hub.Close()
	sub := hub.Subscribe("")
	must(t, hub.Broadcast(context.Background(), "A", nil))
	must(t, hub.Broadcast(context.Background(), "B", nil))
	if !sub.Dropped() {
		t.Fatal("not dropped")
	}
	sub.Close()
	if !sub.Dropped() {
		t.Error("Close cleared Dropped")
	}
}

func TestBadSignalsAreRejected(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		send    func(signal.Bus) error
		wantErr error
	}{
		{"an empty name is invalid", func(b signal.Bus) error { return b.Broadcast(ctx, "", nil) }, signal.ErrInvalidSignal},
		{"a name with a line break is invalid", func(b signal.Bus) error { return b.Broadcast(ctx, "A\ndata: x", nil) }, signal.ErrInvalidSignal},
		{"a name with a carriage return is invalid", func(b signal.Bus) error { return b.SendToUser(ctx, "A\r", "alice", nil) }, signal.ErrInvalidSignal},
		{"a user signal needs a user", func(b signal.Bus) error { return b.SendToUser(ctx, "A", "", nil) }, signal.ErrNoUser},
		{"a payload JSON cannot encode fails", func(b signal.Bus) error { return b.Broadcast(ctx, "A", make(chan int)) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := signal.NewHub(signal.HubOptions{})
			defer hub.Close()
			sub := hub.Subscribe("")
			defer sub.Close()

			err := tt.send(hub)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want one wrapping %v", err, tt.wantErr)
			}
			must(t, hub.Broadcast(ctx, "FENCE", nil))
			if got := signalsUntil(t, sub, "FENCE"); len(got) != 0 {
				t.Errorf("delivered %v anyway", got)
			}
		})
	}
}

func TestEventJSON(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	sub := hub.Subscribe("alice")
	defer sub.Close()
	must(t, hub.SendToUser(context.Background(), "NOTIFIED", "alice", map[string]int{"count": 2}))
	must(t, hub.Broadcast(context.Background(), "PING", nil))

	for _, want := range []string{
		`{"signal":"NOTIFIED","payload":{"count":2}}`, // no user ID
		`{"signal":"PING","payload":{}}`,              // nil payload
	} {
		b, err := json.Marshal(recv(t, sub))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("JSON %s, want %s", b, want)
		}
	}
}

// Subscribing, sending, closing and dropping all at once, for the race
// detector; and the count comes back to zero.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{Buffer: 4})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			user := []string{"", "alice", "bob"}[g%3]
			for i := range 200 {
				sub := hub.Subscribe(user)
				if err := hub.Broadcast(ctx, "B", i); err != nil {
					t.Error(err)
				}
				if err := hub.SendToUser(ctx, "U", "alice", i); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					select {
					case <-sub.Events():
					default:
					}
				}
				_ = sub.Dropped()
				_ = hub.Subscribers()
				sub.Close()
			}
		})
	}
	wg.Wait()
	if n := hub.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d after every subscription closed, want 0", n)
	}

	// Close racing with everything else.
	var subs []*signal.Subscription
	for range 10 {
		subs = append(subs, hub.Subscribe("alice"))
	}
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_ = hub.Broadcast(ctx, "B", nil) // nil or after-Close nil; both fine here
				hub.Subscribe("bob").Close()
			}
		})
	}
	wg.Go(hub.Close)
	wg.Go(hub.Close)
	wg.Wait()
	for _, s := range subs {
		ended(t, s)
	}
	if n := hub.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d after Close, want 0", n)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A public signal is counted before anyone receives it: whoever was told
// of it and then reads PublicSeq sees it counted, so a page rendered at
// the old count is known stale by then. Other signals are not counted.
func TestPublicSeqCountsAPublicSignalBeforeItIsReceived(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{Public: func(s string) bool { return s == "SHOWN" }})
	defer hub.Close()
	visitor := hub.SubscribePublic()
	defer visitor.Close()
	user := hub.Subscribe("u1")
	defer user.Close()
	ctx := context.Background()

	for i := range 100 {
		before := hub.PublicSeq()
		if err := hub.Broadcast(ctx, "SHOWN", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
		recv(t, visitor)
		recv(t, user)
		if got := hub.PublicSeq(); got != before+1 {
			t.Fatalf("after a public signal was received, PublicSeq = %d, want %d", got, before+1)
		}
	}
	n := hub.PublicSeq()
	if err := hub.Broadcast(ctx, "HIDDEN", nil); err != nil {
		t.Fatal(err)
	}
	if err := hub.SendToUser(ctx, "SHOWN", "u1", nil); err != nil {
		t.Fatal(err)
	}
	recv(t, user)
	recv(t, user)
	if got := hub.PublicSeq(); got != n {
		t.Fatalf("a signal not for the public moved PublicSeq from %d to %d", n, got)
	}
}
