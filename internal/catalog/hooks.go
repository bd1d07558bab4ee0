package catalog

import (
	"context"
	"slices"
	"sync"
)

// hookList holds the functions other domains registered for one event.
type hookList[T any] struct {
	mu  sync.Mutex
	fns []func(ctx context.Context, v T)
}

func (h *hookList[T]) add(fn func(ctx context.Context, v T)) {
	h.mu.Lock()
	h.fns = append(h.fns, fn)
	h.mu.Unlock()
}

// run calls the functions in the order they were added, on the caller's
// goroutine.
func (h *hookList[T]) run(ctx context.Context, v T) {
	h.mu.Lock()
	fns := slices.Clone(h.fns)
	h.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, v)
	}
}

// OnSystemSaved registers fn to run after a system is created or updated
// (and the cache dropped), for other domains that follow systems.
func (s *Service) OnSystemSaved(fn func(ctx context.Context, sys System)) { s.systemSaved.add(fn) }

// OnSystemDeleted registers fn to run after a system is deleted (and its
// cache entries dropped), for other domains to clean up.
func (s *Service) OnSystemDeleted(fn func(ctx context.Context, systemID string)) {
	s.systemDeleted.add(fn)
}

// OnGroupSaved registers fn to run after a group is created or updated.
func (s *Service) OnGroupSaved(fn func(ctx context.Context, g Group)) { s.groupSaved.add(fn) }

// OnGroupDeleted registers fn to run after a group is deleted.
func (s *Service) OnGroupDeleted(fn func(ctx context.Context, groupID string)) {
	s.groupDeleted.add(fn)
}
