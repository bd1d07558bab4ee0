package signal_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/signal"
)

// Invariant 5: a client gets, in order, everything sent after ": connected".
func TestStreamDeliversEventsInOrder(t *testing.T) {
	ctx := context.Background()
	const n = 500
	// A buffer for all of them: sent in a burst, they would otherwise
	// overflow a buffer the handler has not had time to drain.
	hub := signal.NewHub(signal.HubOptions{Buffer: n})
	defer hub.Close()
	srv, _ := sseServer(t, hub)

	s := openStream(t, srv.Client(), srv.URL, nil)

	t.Run("the response is an uncached, unbuffered event stream", func(t *testing.T) {
		for name, want := range map[string]string{
			"Content-Type":      "text/event-stream",
			"Cache-Control":     "no-cache",
			"X-Accel-Buffering": "no",
		} {
			if got := s.resp.Header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
	})

	t.Run("every event arrives, in order, as event and data lines", func(t *testing.T) {
		for i := range n {
			must(t, hub.Broadcast(ctx, "SYSTEM_UPDATED", map[string]int{"n": i}))
		}
		for i := range n {
			f := s.nextEvent(t)
			want := `{"signal":"SYSTEM_UPDATED","payload":{"n":` + strconv.Itoa(i) + `}}`
			if f.Event != "SYSTEM_UPDATED" || f.Data != want {
				t.Fatalf("frame %d = %+v, want event SYSTEM_UPDATED and data %s", i, f, want)
			}
			var ev signal.Event
			if err := json.Unmarshal([]byte(f.Data), &ev); err != nil {
				t.Fatalf("data is not an Event: %v", err)
			}
		}
	})
}

// Invariant 5: an anonymous client gets broadcasts only, a user theirs.
func TestStreamCarriesOnlyTheCallersSignals(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	srv, _ := sseServer(t, hub)

	anon := openStream(t, srv.Client(), srv.URL, nil)
	alice := openStream(t, srv.Client(), srv.URL, http.Header{"X-User": {"alice"}})
	bob := openStream(t, srv.Client(), srv.URL, http.Header{"X-User": {"bob"}})

	must(t, hub.SendToUser(ctx, "FOR_ALICE", "alice", nil))
	must(t, hub.Broadcast(ctx, "FOR_ALL", nil))
	must(t, hub.SendToUser(ctx, "FOR_BOB", "bob", nil))
	must(t, hub.Broadcast(ctx, "FENCE", nil))

	for _, tt := range []struct {
		name string
		s    *stream
		want []string
	}{
		{"an anonymous client gets broadcasts only", anon, []string{"FOR_ALL"}},
		{"alice gets her signals and broadcasts", alice, []string{"FOR_ALICE", "FOR_ALL"}},
		{"bob gets his signals and broadcasts", bob, []string{"FOR_ALL", "FOR_BOB"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.eventsUntil(t, "FENCE"); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStreamRefusals(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	srv, _ := sseServer(t, hub)

	t.Run("a rejected caller gets 401 and a JSON error", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Reject", "1")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if body.Error.Code != "UNAUTHORIZED" || body.Error.Message == "" {
			t.Errorf("body %+v, want code UNAUTHORIZED and a message", body)
		}
	})

	t.Run("another method gets 405 and Allow: GET", func(t *testing.T) {
		for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodPut} {
			req, _ := http.NewRequest(method, srv.URL, strings.NewReader("{}"))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body) // the status and header are what count
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
				t.Errorf("%s: status %d, Allow %q; want 405 and GET", method, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	})

	if n := hub.Subscribers(); n != 0 {
		t.Errorf("refused requests left %d subscriptions", n)
	}
}

func TestStreamWithoutAuthIsAnonymous(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	srv := httptest.NewServer(hub.Handler(nil))
	t.Cleanup(srv.Close) // after the streams close: Close waits for their handlers

	s := openStream(t, srv.Client(), srv.URL, http.Header{"X-User": {"alice"}})
	must(t, hub.SendToUser(context.Background(), "FOR_ALICE", "alice", nil))
	must(t, hub.Broadcast(context.Background(), "FENCE", nil))
	if got := s.eventsUntil(t, "FENCE"); len(got) != 0 {
		t.Errorf("got %v, want nothing before the fence", got)
	}
}

func TestStreamHeartbeats(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{Heartbeat: 5 * time.Millisecond})
	defer hub.Close()
	srv, _ := sseServer(t, hub)
	s := openStream(t, srv.Client(), srv.URL, nil)

	for i := range 3 {
		if f := s.next(t); !f.isPing() {
			t.Fatalf("frame %d on an idle stream = %+v, want the comment \"ping\"", i, f)
		}
	}
	// Heartbeats do not get in the way of events.
	must(t, hub.Broadcast(context.Background(), "AFTER_PINGS", nil))
	if f := s.nextEvent(t); f.Event != "AFTER_PINGS" {
		t.Errorf("got %+v", f)
	}
}

// Invariant 4: the handler returns when its client goes away.
func TestStreamEndsWhenTheClientDisconnects(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()
	srv, handlers := sseServer(t, hub)

	streams := []*stream{
		openStream(t, srv.Client(), srv.URL, nil),
		openStream(t, srv.Client(), srv.URL, http.Header{"X-User": {"alice"}}),
	}
	if n := hub.Subscribers(); n != 2 {
		t.Fatalf("Subscribers() = %d with two streams open, want 2", n)
	}
	for _, s := range streams {
		s.disconnect()
	}
	waitFor(t, "the subscriptions to end", func() bool { return hub.Subscribers() == 0 })
	waitFor(t, "the handlers to return", func() bool { return handlers.active.Load() == 0 })
}

// Invariant 4: the handlers return when the hub closes.
func TestStreamEndsWhenTheHubCloses(t *testing.T) {
	hub := signal.NewHub(signal.HubOptions{})
	srv, handlers := sseServer(t, hub)

	a := openStream(t, srv.Client(), srv.URL, nil)
	b := openStream(t, srv.Client(), srv.URL, http.Header{"X-User": {"alice"}})
	must(t, hub.Broadcast(context.Background(), "LAST", nil))
	hub.Close()

	for _, s := range []*stream{a, b} {
		rest := s.end(t)
		if len(rest) != 1 || rest[0].Event != "LAST" {
			t.Errorf("frames before the end: %+v, want only LAST (and no dropped event)", rest)
		}
	}
	waitFor(t, "the handlers to return", func() bool { return handlers.active.Load() == 0 })
	if n := hub.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d, want 0", n)
	}

	t.Run("a client connecting afterwards is told it is connected, then the stream ends", func(t *testing.T) {
		s := openStream(t, srv.Client(), srv.URL, nil)
		if rest := s.end(t); len(rest) != 0 {
			t.Errorf("got %+v", rest)
		}
	})
}

// gatedWriter is a ResponseWriter whose every Write is announced on
// writes and then waits for proceed: a client as slow as the test wants.
type gatedWriter struct {
	header  http.Header
	writes  chan string
	proceed chan struct{} // one value lets one write finish; closed, all
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}
func (w *gatedWriter) Write(b []byte) (int, error) {
	w.writes <- string(b)
	<-w.proceed
	return len(b), nil
}

// A client that falls behind is told so, and its handler returns.
func TestStreamTellsASlowClientItWasDropped(t *testing.T) {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{Buffer: 1})
	defer hub.Close()

	w := &gatedWriter{header: http.Header{}, writes: make(chan string), proceed: make(chan struct{})}
	var release sync.Once
	releaseAll := func() { release.Do(func() { close(w.proceed) }) }
	reqCtx, cancel := context.WithCancel(ctx)
	req := httptest.NewRequestWithContext(reqCtx, http.MethodGet, "/api/signals", nil)
	done := make(chan struct{})
	go func() { // owned by this test, which waits for it below
		defer close(done)
		hub.Handler(nil).ServeHTTP(w, req)
	}()
	defer func() {
		cancel()
		releaseAll()
		for {
			select {
			case <-w.writes: // a write still pending
			case <-done:
				return
			}
		}
	}()

	nextWrite := func() string {
		t.Helper()
		select {
		case s := <-w.writes:
			return s
		case <-time.After(waitTimeout):
			t.Fatal("timed out waiting for a write")
		}
		panic("unreachable")
	}

	if got := nextWrite(); got != "retry: 3000\n: connected\n\n" {
		t.Fatalf("first write %q", got)
	}
	w.proceed <- struct{}{}

	// The handler takes A and is stuck writing it; B fills the buffer of
	// one; C overflows it.
	must(t, hub.Broadcast(ctx, "A", nil))
	frames := []string{nextWrite()}
	must(t, hub.Broadcast(ctx, "B", nil))
	must(t, hub.Broadcast(ctx, "C", nil))

	releaseAll()
	timeout := time.After(waitTimeout)
collect:
	for {
		select {
		case f := <-w.writes:
			frames = append(frames, f)
		case <-done:
			break collect
		case <-timeout:
			t.Fatalf("the handler did not return; wrote %q", frames)
		}
	}
	want := []string{
		"event: A\ndata: {\"signal\":\"A\",\"payload\":{}}\n\n",
		"event: B\ndata: {\"signal\":\"B\",\"payload\":{}}\n\n",
		"event: dropped\ndata: {\"signal\":\"dropped\",\"payload\":{}}\n\n",
	}
	if !slices.Equal(frames, want) {
		t.Errorf("wrote %q\nwant %q", frames, want)
	}
	if n := hub.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d, want 0", n)
	}
}

// The server's ReadTimeout and WriteTimeout must not cut a stream short.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	const serverTimeout = 50 * time.Millisecond
	hub := signal.NewHub(signal.HubOptions{Heartbeat: 5 * time.Millisecond})
	defer hub.Close()
	srv := httptest.NewUnstartedServer(hub.Handler(nil))
	srv.Config.ReadTimeout = serverTimeout
	srv.Config.WriteTimeout = serverTimeout
	srv.Start()
	t.Cleanup(srv.Close) // after the streams close: Close waits for their handlers

	s := openStream(t, srv.Client(), srv.URL, nil)
	start := time.Now()
	for time.Since(start) < 4*serverTimeout {
		if f := s.next(t); !f.isPing() {
			t.Fatalf("got %+v, want heartbeats", f)
		}
	}
	must(t, hub.Broadcast(context.Background(), "STILL_HERE", nil))
	if f := s.nextEvent(t); f.Event != "STILL_HERE" {
		t.Errorf("got %+v", f)
	}
}
