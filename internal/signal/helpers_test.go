package signal_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/signal"
)

// waitTimeout is how long a test waits for something that should happen
// at once before it fails. It only bounds a failing test; nothing waits
// for it to pass.
const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds, and fails the test if it still does
// not after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// wait waits for done to be closed, or fails the test.
func wait(t testing.TB, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// recv returns the next event of sub, failing if the subscription ends or
// nothing arrives.
func recv(t testing.TB, sub *signal.Subscription) signal.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatalf("subscription ended (dropped: %v), want an event", sub.Dropped())
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for an event")
	}
	panic("unreachable")
}

// signalsUntil returns the signals sub receives up to, not including, the
// first one named fence. Sending a fence after the signals under test
// shows what a subscription got without waiting for what it did not.
func signalsUntil(t testing.TB, sub *signal.Subscription, fence string) []string {
	t.Helper()
	var got []string
	for {
		ev := recv(t, sub)
		if ev.Signal == fence {
			return got
		}
		got = append(got, ev.Signal)
	}
}

// ended drains sub and waits for its Events channel to close, returning
// what was still buffered.
func ended(t testing.TB, sub *signal.Subscription) []signal.Event {
	t.Helper()
	var rest []signal.Event
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return rest
			}
			rest = append(rest, ev)
		case <-timeout:
			t.Fatal("timed out waiting for the subscription to end")
		}
	}
}

// authByHeader resolves the caller from test headers: X-User is the user
// ID (none: anonymous), and any X-Reject rejects the request.
func authByHeader(r *http.Request) (string, bool) {
	if r.Header.Get("X-Reject") != "" {
		return "", false
	}
	return r.Header.Get("X-User"), true
}

// tracked counts the handler calls in progress, to show that handlers
// return.
type tracked struct {
	next   http.Handler
	active atomic.Int64
}

func (h *tracked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.active.Add(1)
	defer h.active.Add(-1)
	h.next.ServeHTTP(w, r)
}

// sseServer serves hub's handler (with authByHeader) on a test server, and
// returns it with the handler's counter.
func sseServer(t testing.TB, hub *signal.Hub) (*httptest.Server, *tracked) {
	t.Helper()
	h := &tracked{next: hub.Handler(authByHeader)}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, h
}

// frame is one block of an SSE stream, up to its blank line.
type frame struct {
	Event    string
	Data     string
	Retry    string
	Comments []string
}

func (f frame) isPing() bool {
	return f.Event == "" && f.Data == "" && f.Retry == "" && slices.Equal(f.Comments, []string{"ping"})
}

// stream is an SSE client, reading a stream line by line like a browser.
type stream struct {
	resp   *http.Response
	frames chan frame    // closed when the response ends
	stop   chan struct{} // closed to stop the reader
}

// openStream opens an SSE stream at url with header, and reads up to its
// ": connected" comment: every event sent after openStream returns reaches
// the stream.
func openStream(t testing.TB, client *http.Client, url string, header http.Header) *stream {
	t.Helper()
	s := dial(t, client, url, header)
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", url, s.resp.StatusCode)
	}
	f := s.next(t)
	if f.Retry != "3000" || !slices.Equal(f.Comments, []string{"connected"}) || f.Event != "" || f.Data != "" {
		t.Fatalf("stream opened with %+v, want retry 3000 and the comment \"connected\"", f)
	}
	return s
}

// dial sends the request and starts reading the response as a stream,
// whatever its status. The stream is closed when the test ends.
func dial(t testing.TB, client *http.Client, url string, header http.Header) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	s := &stream{resp: resp, frames: make(chan frame, 16), stop: make(chan struct{})}
	readerDone := make(chan struct{})
	go func() { // owned by s: ends when the body ends or the test closes it
		defer close(readerDone)
		s.read(resp.Body)
	}()
	t.Cleanup(func() {
		close(s.stop)
		cancel()
		_ = resp.Body.Close() // the reader reports nothing more; the test is over
		<-readerDone
	})
	return s
}

// disconnect closes the client's side of the stream.
func (s *stream) disconnect() { _ = s.resp.Body.Close() } // the reader sees the end

func (s *stream) read(body io.Reader) {
	defer close(s.frames)
	sc := bufio.NewScanner(body)
	var f frame
	empty := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if !empty {
				select {
				case s.frames <- f:
				case <-s.stop:
					return
				}
			}
			f, empty = frame{}, true
			continue
		}
		empty = false
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "":
			f.Comments = append(f.Comments, value)
		case "event":
			f.Event = value
		case "data":
			if f.Data != "" {
				f.Data += "\n"
			}
			f.Data += value
		case "retry":
			f.Retry = value
		}
	}
}

// next returns the next frame, failing if the stream ends first.
func (s *stream) next(t testing.TB) frame {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			t.Fatal("stream ended, want a frame")
		}
		return f
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a frame")
	}
	panic("unreachable")
}

// nextEvent returns the next frame that is not a heartbeat.
func (s *stream) nextEvent(t testing.TB) frame {
	t.Helper()
	for {
		if f := s.next(t); !f.isPing() {
			return f
		}
	}
}

// eventsUntil returns the event names the stream receives up to, not
// including, the first one named fence.
func (s *stream) eventsUntil(t testing.TB, fence string) []string {
	t.Helper()
	var got []string
	for {
		f := s.nextEvent(t)
		if f.Event == fence {
			return got
		}
		got = append(got, f.Event)
	}
}

// end waits for the server to end the stream, and returns the frames that
// came before the end, heartbeats left out.
func (s *stream) end(t testing.TB) []frame {
	t.Helper()
	var rest []frame
	timeout := time.After(waitTimeout)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return rest
			}
			if !f.isPing() {
				rest = append(rest, f)
			}
		case <-timeout:
			t.Fatal("timed out waiting for the stream to end")
		}
	}
}
