package probe_test

import (
	"context"
	"encoding/json"
	"net"
	"regexp"
	"strconv"
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

var timedOut = regexp.MustCompile(`timed out after (\d+)ms`)

// wantResult fails the test unless res has status and its message contains
// every one of parts.
func wantResult(t *testing.T, res probe.Result, status probe.Status, parts ...string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status = %s, want %s (message %q)", res.Status, status, res.Message)
	}
	// A run cut off at hangTimeout says the time it had, a few ms less on a
	// busy machine (wantTimedOut checks how much): read it as hangTimeout.
	msg := timedOut.ReplaceAllStringFunc(res.Message, func(m string) string {
		ms, _ := strconv.Atoi(timedOut.FindStringSubmatch(m)[1])
		if d := time.Duration(ms) * time.Millisecond; d <= hangTimeout && d >= hangTimeout*3/4 {
			return "timed out after " + hangTimeout.String()
		}
		return m
	})
	for _, p := range parts {
		if !strings.Contains(msg, p) {
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
	// The message gives the time the run had: hangTimeout, less what passed
	// between the caller's deadline and the run's start (a few ms on a busy
	// machine).
	wantResult(t, res, probe.Unhealthy, "timed out after ")
	var budget time.Duration
	if m := timedOut.FindStringSubmatch(res.Message); m != nil {
		ms, _ := strconv.Atoi(m[1])
		budget = time.Duration(ms) * time.Millisecond
	}
	if budget > hangTimeout || budget < hangTimeout*3/4 {
		t.Errorf("message %q, want it to time out after about %v", res.Message, hangTimeout)
	}
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
