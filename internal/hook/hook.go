// Package hook is how a domain lets others follow its events without
// knowing them: it keeps a List per event, others Add to it (the
// composition root wires them, in one place), and the domain Runs it
// after the event, once the change is stored and its cache dropped.
//
//	var deleted hook.List[string]
//	deleted.Add(func(ctx context.Context, systemID string) { … })
//	deleted.Run(ctx, id)
package hook

import (
	"context"
	"slices"
	"sync"
)

// List holds the functions registered for one event. The zero value is
// an empty list; it is safe for concurrent use.
type List[T any] struct {
	mu  sync.Mutex
	fns []func(ctx context.Context, v T)
}

// Add registers fn.
func (l *List[T]) Add(fn func(ctx context.Context, v T)) {
	l.mu.Lock()
	l.fns = append(l.fns, fn)
	l.mu.Unlock()
}

// Run calls the functions in the order they were added, on the caller's
// goroutine. A function added while Run runs is called from the next Run.
func (l *List[T]) Run(ctx context.Context, v T) {
	l.mu.Lock()
	fns := slices.Clone(l.fns)
	l.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, v)
	}
}
