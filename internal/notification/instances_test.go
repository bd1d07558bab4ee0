package notification

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// openTwice opens dsn twice, as two server processes would, migrates it,
// and closes both when the test ends.
func openTwice(t *testing.T, dsn string) (*store.DB, *store.DB) {
	t.Helper()
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		dbs[i] = db
	}
	if err := dbs[0].Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dbs[0], dbs[1]
}

func TestTwoInstancesDeliverEachNotificationExactlyOnce(t *testing.T) {
	t.Parallel()
	engines := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "shared.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			db1, db2 := openTwice(t, eng.dsn(t))
			rc := newReceiver(t, always(200))
			one := newEnv(t, db1, envOptions{opts: Options{Delivery: fastDelivery}})
			two := newEnv(t, db2, envOptions{opts: Options{Delivery: fastDelivery}})
			us := ids(one.users(t, 2))
			one.configureWebhook(t, rc.URL)
			one.optIn(t, ChannelWebhook, us...)
			one.start(t)
			two.start(t)

			const n = 10
			for i := range n {
				sender := []*env{one, two}[i%2]
				sender.notify(t, fmt.Sprintf("message %d", i), us...)
			}
			want := n * len(us)
			for range want {
				receive(t, rc.got, "a delivery")
			}
			ds := one.settled(t)
			// Stopped, neither instance can send anything more.
			stop(t, one.s)
			stop(t, two.s)

			if len(ds) != want {
				t.Fatalf("%d deliveries logged, want %d", len(ds), want)
			}
			for _, d := range ds {
				if d.Status != StatusDelivered || d.Attempts != 1 {
					t.Errorf("delivery %s: %s after %d attempts, want delivered on the first", d.ID, d.Status, d.Attempts)
				}
			}
			count := map[string]int{}
			for _, h := range rc.requests() {
				count[h.delivery]++
			}
			if len(count) != want {
				t.Errorf("the receiver got %d distinct deliveries, want %d", len(count), want)
			}
			for id, c := range count {
				if c != 1 {
					t.Errorf("delivery %s arrived %d times", id, c)
				}
			}
		})
	}
}
