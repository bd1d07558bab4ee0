// Package mutate is the one way a domain writes a mutation:
//
//	db.write → cache invalidation (awaited) → signal
//
// in that order, so that a client that refetches when the signal arrives
// reads through a cache that no longer holds the old state.
//
//	err := mutate.Do(ctx, log, "createSystem",
//		func(ctx context.Context) error { return store.CreateSystem(ctx, sys) },
//		svc.invalidateTopology,
//		func(ctx context.Context) { bus.Broadcast(ctx, "CATALOG_CHANGED", payload) })
package mutate

import (
	"context"
	"log/slog"
)

// Do runs write; if it succeeds, runs invalidate and waits for it, then
// runs signal. It returns write's error, untouched, so domains can map it.
//
// A failing invalidation does not undo the write, and the signal is still
// sent: the write has happened and clients must hear about it. The cache
// itself covers the failure (a scope whose provider delete fails stops
// serving the entry from that provider; see package cache). Do logs it.
func Do(ctx context.Context, log *slog.Logger, name string, write func(context.Context) error, invalidate func(context.Context) error, signal func(context.Context)) error {
	if err := write(ctx); err != nil {
		return err
	}
	// The write happened: finish the sequence even if the caller has gone.
	ctx = context.WithoutCancel(ctx)
	if invalidate != nil {
		if err := invalidate(ctx); err != nil {
			log.ErrorContext(ctx, "cache invalidation failed after a write", "mutation", name, "err", err)
		}
	}
	if signal != nil {
		signal(ctx)
	}
	return nil
}
