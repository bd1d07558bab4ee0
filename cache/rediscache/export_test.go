package rediscache

import "context"

// WrapProbe replaces the breaker's health check with wrap(check), so that a
// test can hold the prober still while it counts dials. Call it before the
// provider is used.
func WrapProbe(p *Provider, wrap func(check func(context.Context) error) func(context.Context) error) {
	p.breaker.probe = wrap(p.breaker.probe)
}
