package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// DefaultTimeout bounds a run whose ctx has no deadline.
const DefaultTimeout = 30 * time.Second

// begin returns the context a run works under, cancelled at ctx's deadline
// or, when ctx has none, after DefaultTimeout, together with the time left
// until then: the d in "timed out after d".
func begin(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	deadline, ok := ctx.Deadline()
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
		return ctx, cancel, DefaultTimeout
	}
	ctx, cancel := context.WithCancel(ctx)
	return ctx, cancel, max(time.Until(deadline), 0)
}

// invalidConfig is the result of running with a configuration that does not
// validate.
func invalidConfig(err error) Result {
	return Result{Status: Unhealthy, Message: "invalid configuration: " + err.Error()}
}

// recoverPanic turns a panic in a run into an unhealthy result, so that Run
// keeps its promise never to panic. Use it deferred:
//
//	defer recoverPanic(&res, "http")
func recoverPanic(res *Result, strategy string) {
	if v := recover(); v != nil {
		*res = Result{Status: Unhealthy, Message: fmt.Sprintf("%s check failed: internal error: %v", strategy, v)}
	}
}

// stopped says why a run was cut off, or "" when it was not: err is what
// the operation returned and ctx the context from begin.
func stopped(ctx context.Context, err error, budget time.Duration) string {
	if errors.Is(ctx.Err(), context.Canceled) {
		return "cancelled"
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return "timed out after " + formatDuration(budget)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return "timed out after " + formatDuration(budget)
	}
	return ""
}

// describeConnError says in words why connecting, or talking TLS, failed:
// refused, a DNS failure, an untrusted certificate, and so on.
func describeConnError(err error) string {
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
		return fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	}
	if e, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return "TLS certificate not trusted: " + e.Error()
	}
	if e, ok := errors.AsType[x509.HostnameError](err); ok {
		return "TLS certificate does not match the host: " + e.Error()
	}
	if e, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return "TLS certificate invalid: " + e.Error()
	}
	if e, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return "TLS certificate rejected: " + e.Err.Error()
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return "TLS handshake failed: the server did not answer with TLS"
	}
	if e, ok := errors.AsType[tls.AlertError](err); ok {
		return "TLS handshake failed: " + e.Error()
	}
	if e, ok := errors.AsType[*url.Error](err); ok {
		// The caller already names the method and URL.
		return e.Err.Error()
	}
	return err.Error()
}

// formatDuration rounds d for a message: 200ms, 1.5s, 350µs.
func formatDuration(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// tooSlow reports whether a run that succeeded in elapsed is degraded by
// degradedMs, where 0 means never.
func tooSlow(elapsed time.Duration, degradedMs int) bool {
	return degradedMs > 0 && elapsed > time.Duration(degradedMs)*time.Millisecond
}

// success is the result of a run that passed its checks: healthy, or
// degraded when it took longer than degradedMs. summary says what passed,
// without the latency; success adds it.
func success(summary string, elapsed time.Duration, degradedMs int, details map[string]any) Result {
	msg := summary + " in " + formatDuration(elapsed)
	if tooSlow(elapsed, degradedMs) {
		msg += ", slower than " + strconv.Itoa(degradedMs) + "ms"
		return Result{Status: Degraded, Latency: elapsed, Message: msg, Details: details}
	}
	return Result{Status: Healthy, Latency: elapsed, Message: msg, Details: details}
}

// daysLeft is how many whole days remain until notAfter: 0 on its last
// day, negative once it has passed.
func daysLeft(notAfter, now time.Time) int {
	return int(math.Floor(notAfter.Sub(now).Hours() / 24))
}

// snippet quotes the start of b for a message, at most n bytes of it.
func snippet(b []byte, n int) string {
	if len(b) <= n {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:n])) + "…"
}
