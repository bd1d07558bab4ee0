package probe_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/probe"
)

// hangTimeout is the deadline given to runs against targets that never
// answer.
const hangTimeout = 200 * time.Millisecond

// check validates config with s, failing the test if it does not validate,
// and runs it with a deadline timeout from now.
func check(t *testing.T, s probe.Strategy, config map[string]any, timeout time.Duration) probe.Result {
	t.Helper()
	raw, err := json.Marshal(config)
	if err != nil {
		t.Fatalf("encode config: %v", err)
	}
	valid, err := s.Validate(raw)
	if err != nil {
		t.Fatalf("Validate(%s): %v", raw, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	res := s.Run(ctx, valid)
	t.Logf("%s in %v: %s", res.Status, res.Latency, res.Message)
	return res
}

// wantResult fails the test unless res has status and its message contains
// every one of parts.
func wantResult(t *testing.T, res probe.Result, status probe.Status, parts ...string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status = %s, want %s (message %q)", res.Status, status, res.Message)
	}
	for _, p := range parts {
		if !strings.Contains(res.Message, p) {
			t.Errorf("message %q does not contain %q", res.Message, p)
		}
	}
	if _, err := json.Marshal(res.Details); err != nil {
		t.Errorf("details do not encode as JSON: %v", err)
	}
}

// wantTimedOut fails the test unless res is the result of a run cut off at
// hangTimeout.
func wantTimedOut(t *testing.T, res probe.Result) {
	t.Helper()
	wantResult(t, res, probe.Unhealthy, "timed out after 200ms")
	if res.Latency < hangTimeout*3/4 || res.Latency > hangTimeout+2*time.Second {
		t.Errorf("latency = %v, want about %v", res.Latency, hangTimeout)
	}
}

// refusedAddr returns a loopback address where nothing listens: a port
// that was just free.
func refusedAddr(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// serve accepts connections on ln until the test ends and hands each to
// handle, with a channel closed when the test ends for handlers that wait.
// Cleanup closes the channel and the listener and waits for every handler
// to return.
func serve(t *testing.T, ln net.Listener, handle func(conn net.Conn, done <-chan struct{})) *net.TCPAddr {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // the listener is closed: the test is over
			}
			wg.Go(func() {
				defer func() { _ = conn.Close() }() // the handler's outcome is the test's concern, not Close's
				handle(conn, done)
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		_ = ln.Close() // only fails if already closed
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr)
}

// listenTCP listens on a free loopback port.
func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
