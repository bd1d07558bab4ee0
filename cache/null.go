package cache

import (
	"context"
	"time"
)

// NewNull returns a provider that stores nothing: every Get misses and every
// write succeeds doing nothing. It is the provider for "no cache
// configured"; scopes on it still share concurrent loads.
func NewNull() Provider { return null{} }

type null struct{}

func (null) Get(context.Context, string) ([]byte, bool, error)        { return nil, false, nil }
func (null) Set(context.Context, string, []byte, time.Duration) error { return nil }
func (null) Delete(context.Context, string) error                     { return nil }
func (null) DeleteByPrefix(context.Context, string) (int, error)      { return 0, nil }
func (null) Has(context.Context, string) (bool, error)                { return false, nil }
