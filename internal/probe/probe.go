// Package probe runs one health check against a target and says how it
// went: the http, tcp, dns and tls strategies. It knows nothing of
// systems, schedules or storage; package healthcheck runs it.
package probe

import (
	"context"
	"encoding/json"
	"time"
)

// Status is the outcome of one run.
type Status string

const (
	Healthy   Status = "healthy"
	Degraded  Status = "degraded"
	Unhealthy Status = "unhealthy"
)

// Result is what one run found.
type Result struct {
	Status  Status         // healthy, degraded or unhealthy
	Latency time.Duration  // how long the check took
	Message string         // what a person can act on: "GET https://x/health: status 503, want 200"
	Details map[string]any // strategy-specific fields, JSON-encodable (statusCode, tlsDaysLeft, ...)
}

// Strategy is one kind of check.
type Strategy interface {
	// Name is the strategy's name in configurations: "http", "tcp", "dns" or "tls".
	Name() string
	// Validate checks a configuration and returns it normalised (defaults
	// filled in). Its error is an *rpc.Error whose message names the field
	// as "config.<field>: <reason>".
	Validate(config json.RawMessage) (json.RawMessage, error)
	// Run performs one check with a validated configuration. ctx carries the
	// deadline. It never panics and never returns an error: a failure is an
	// unhealthy Result whose Message says why.
	Run(ctx context.Context, config json.RawMessage) Result
}

// Lookup returns the strategy configurations call name: "http", "tcp",
// "dns" or "tls". It reports false for any other name.
func Lookup(name string) (Strategy, bool) {
	switch name {
	case "dns":
		return DNS{}, true
	case "http":
		return HTTP{}, true
	case "tcp":
		return TCP{}, true
	case "tls":
		return TLS{}, true
	}
	return nil, false
}

// Names returns the names Lookup knows, sorted.
func Names() []string {
	return []string{"dns", "http", "tcp", "tls"}
}
