package notification

import (
	"errors"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// A worker whose lease ran out, and whose delivery another worker claimed,
// must not record its outcome over the new owner's: the lease it claimed
// is its token.
func TestAnExpiredLeaseCannotRecordOverTheNewOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		ctx := t.Context()
		u := e.users(t, 1)[0].ID
		e.configureWebhook(t, "http://127.0.0.1:1/")
		e.optIn(t, ChannelWebhook, u)
		if _, err := e.s.NotifyUsers(ctx, []string{u}, Message{Title: "x"}); err != nil {
			t.Fatal(err)
		}
		st := &e.s.st
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		first, err := st.claim(ctx, t0, time.Minute, 10)
		if err != nil || len(first) != 1 {
			t.Fatalf("first claim: %v, %v", first, err)
		}
		if again, err := st.claim(ctx, t0.Add(30*time.Second), time.Minute, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed again while leased: %v, %v", again, err)
		}
		second, err := st.claim(ctx, t0.Add(2*time.Minute), time.Minute, 10) // the first lease ran out
		if err != nil || len(second) != 1 {
			t.Fatalf("claim after the lease ran out: %v, %v", second, err)
		}
		if err := st.finish(ctx, first[0], StatusDelivered, 1, t0, "", t0); !errors.Is(err, errLeaseLost) {
			t.Fatalf("the old owner's finish = %v, want errLeaseLost", err)
		}
		if err := st.release(ctx, first[0]); !errors.Is(err, errLeaseLost) {
			t.Fatalf("the old owner's release = %v, want errLeaseLost", err)
		}
		if err := st.finish(ctx, second[0], StatusFailed, 1, t0, "boom", t0); err != nil {
			t.Fatalf("the new owner's finish: %v", err)
		}
		ds := e.deliveries(t)
		if len(ds) != 1 || ds[0].Status != StatusFailed || ds[0].LastError != "boom" {
			t.Fatalf("delivery log %+v, want the new owner's outcome", ds)
		}
	})
}
