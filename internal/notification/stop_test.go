package notification

import (
	"context"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// Stop while a worker is still preparing a send (here: resolving the
// user): the cancelled lookup is the shutdown's failure, not the
// delivery's. With one attempt allowed, counting it would fail the
// delivery for good though nothing was sent; it is given back untried.
func TestStopDuringASendsPreparationGivesTheDeliveryBackUntried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		a := e.users(t, 1)[0].ID
		rc := newReceiver(t, always(200))
		entered := make(chan struct{}, 1)
		lookup := userLookup(e.auth)
		opts := Options{Delivery: DeliveryOptions{Poll: 10 * time.Millisecond, MaxAttempts: 1}}
		s := New(db, cache.NewMemory(cache.MemoryOptions{}), &recordingBus{}, func(ctx context.Context, id string) (User, error) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-ctx.Done() // a lookup still under way when Stop comes
			return lookup(ctx, id)
		}, quiet, opts)
		if _, err := s.ConfigureChannel(t.Context(), ChannelInput{Channel: ChannelWebhook, Enabled: true,
			Config: []byte(`{"url":"` + rc.URL + `","secret":"` + testSecret + `"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPreference(t.Context(), a, ChannelWebhook, true); err != nil {
			t.Fatal(err)
		}
		s.Start(context.Background())
		ns, err := s.NotifyUsers(t.Context(), []string{a}, Message{Title: "x"})
		if err != nil {
			t.Fatal(err)
		}
		<-entered
		stop(t, s)
		ds, _, err := s.Deliveries(t.Context(), DeliveryFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		d := deliveryOf(t, ds, ns[0].ID)
		if d.Status != StatusPending || d.Attempts != 0 {
			t.Fatalf("delivery interrupted by Stop before any send: %+v, want pending and untried", d)
		}
	})
}
