package signal

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Lines of the SSE stream other than events.
var (
	// streamOpen tells the browser to reconnect 3s after the stream ends,
	// and the client that it is subscribed.
	streamOpen = []byte("retry: 3000\n: connected\n\n")
	heartbeat  = []byte(": ping\n\n")
	// droppedFrame has a data line because EventSource ignores an event
	// without one.
	droppedFrame = encodeFrame(Event{Signal: SignalDropped, Payload: emptyPayload})
)

// Handler serves GET /api/signals as Server-Sent Events (see the package
// documentation for the stream's format).
//
// userID resolves the caller: a user ID, "" for an anonymous caller (who
// gets broadcasts only), or ok false to reject the request with 401 and
// {"error":{"code":"UNAUTHORIZED","message":"..."}}. A nil userID treats
// every caller as anonymous. Methods other than GET get 405.
//
// The stream ends when the client disconnects, when its subscription is
// dropped for falling behind (after an "event: dropped"), or when the hub
// is closed.
func (h *Hub) Handler(userID func(r *http.Request) (id string, ok bool)) http.Handler {
	return h.ListenerHandler(func(r *http.Request) (Listener, error) {
		if userID == nil {
			return Listener{}, nil
		}
		id, ok := userID(r)
		if !ok {
			return Listener{}, ErrUnauthorized
		}
		return Listener{UserID: id}, nil
	})
}

// ErrUnauthorized is what a ListenerHandler's resolver returns for a
// caller it refuses: 401. Any other error means the caller could not be
// checked (the database is down, say): 503 with Retry-After, which an
// EventSource retries, where a 401 would make it give up.
var ErrUnauthorized = errors.New("signal: unauthorized")

// unavailableRetry is the Retry-After of a 503, in seconds.
const unavailableRetry = "5"

// Listener is who a stream is for: a user, an anonymous client (both
// empty), or a visitor of the public status page.
type Listener struct {
	UserID string
	Public bool // a public subscription (see SubscribePublic)
}

// ListenerHandler is Handler resolving each caller to a Listener
// (ErrUnauthorized: 401; another error: 503).
func (h *Hub) ListenerHandler(who func(r *http.Request) (Listener, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "use GET")
			return
		}
		l, err := who(r)
		switch {
		case errors.Is(err, ErrUnauthorized):
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "sign in to receive signals")
			return
		case err != nil:
			w.Header().Set("Retry-After", unavailableRetry)
			writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "cannot check credentials now; try again shortly")
			return
		}
		h.stream(w, r, l)
	})
}

// stream subscribes for userID and copies the subscription's events to w
// until the client goes away or the subscription ends. It runs on the
// request's goroutine and starts none.
func (h *Hub) stream(w http.ResponseWriter, r *http.Request, l Listener) {
	ctx := r.Context()
	// Subscribe before ": connected" is written: a client that has read
	// that line gets everything sent after it (invariant 5).
	sub := h.subscribe(l.UserID, l.Public)
	defer sub.Close()

	// The server's WriteTimeout would fail every write after it: write
	// sets a deadline of its own before each one instead, which also
	// bounds the server's last flush after stream returns (net/http clears
	// it before the connection serves another request). The server's
	// ReadTimeout does not matter: net/http clears the read deadline before
	// it runs a handler whose request has no body.
	rc := http.NewResponseController(w)

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	write := func(b []byte) error {
		// Writers without deadlines (tests, some middleware) return
		// ErrNotSupported: the stream works, unbounded.
		if err := rc.SetWriteDeadline(time.Now().Add(h.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}

	if err := write(streamOpen); err != nil {
		h.logger.DebugContext(ctx, "stream write failed", "error", err)
		return
	}

	ticker := time.NewTicker(h.heartbeat)
	defer ticker.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.Events():
			if !ok {
				if !sub.Dropped() {
					return // closed, or the hub closed
				}
				// Best effort: the client may be too slow to take it.
				if err := write(droppedFrame); err != nil {
					h.logger.DebugContext(ctx, "stream write failed", "error", err)
				}
				return
			}
			err = write(ev.sse())
		case <-ticker.C:
			err = write(heartbeat)
		}
		if err != nil {
			h.logger.DebugContext(ctx, "stream write failed", "error", err)
			return
		}
	}
}

// writeError writes the API's error body: {"error":{"code":..., "message":...}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(map[string]body{"error": {code, message}}) // cannot fail: strings only
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // the client is gone if this fails; nothing to do
}
