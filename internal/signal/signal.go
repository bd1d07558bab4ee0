package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
)

// Bus sends signals: small notes telling clients what to refetch, never the
// data itself.
//
// Both methods return an error wrapping ErrInvalidSignal for a bad signal
// name, one wrapping ErrNoUser for an empty userID, and an encoding error
// for a payload encoding/json cannot encode; in those cases nothing is
// sent. An implementation that talks to another process also returns that
// transport's errors. A nil error means the signal was handed to every
// current recipient (or to the transport); it does not mean anyone read it.
type Bus interface {
	// Broadcast sends signal to every connected client.
	Broadcast(ctx context.Context, signal string, payload any) error
	// SendToUser sends signal to the clients of user userID only.
	SendToUser(ctx context.Context, signal string, userID string, payload any) error
}

var (
	_ Bus = (*Hub)(nil)
	_ Bus = (*Redis)(nil)
)

// Errors returned, wrapped, by Bus implementations.
var (
	// ErrInvalidSignal: the signal name is empty or has a control
	// character (a line break would corrupt the SSE stream).
	ErrInvalidSignal = errors.New("invalid signal name")
	// ErrNoUser: SendToUser was called with an empty user ID.
	ErrNoUser = errors.New("no user ID")
)

// SignalDropped is the SSE event a client gets, last, when its subscription
// was dropped for falling behind: it may have missed signals, so it should
// refetch what it shows and reconnect.
const SignalDropped = "dropped"

// Event is one signal as delivered. Its JSON is
//
//	{"signal":"...","payload":{...}}
//
// UserID is not serialised. Payload is shared by every subscription that
// gets the event: read it, do not modify it.
type Event struct {
	Signal  string          `json:"signal"`
	Payload json.RawMessage `json:"payload"`
	UserID  string          `json:"-"` // "" for broadcasts

	// frame is the event's SSE encoding, built once by the hub for all the
	// streams that carry it.
	frame []byte
}

// emptyPayload is what a nil payload is sent as.
var emptyPayload = json.RawMessage(`{}`)

// validSignal reports whether name may be used as a signal name.
func validSignal(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// newEvent checks a signal and encodes its payload; op names the operation
// for errors ("broadcast", "send to user").
func newEvent(op, name, userID string, payload any, toUser bool) (Event, error) {
	if !validSignal(name) {
		return Event{}, fmt.Errorf("signal: %s %q: %w", op, name, ErrInvalidSignal)
	}
	if toUser && userID == "" {
		return Event{}, fmt.Errorf("signal: %s %q: %w", op, name, ErrNoUser)
	}
	raw := emptyPayload
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return Event{}, fmt.Errorf("signal: %s %q: encode payload: %w", op, name, err)
		}
		raw = b
	}
	return Event{Signal: name, Payload: raw, UserID: userID}, nil
}

// sse returns the event as an SSE frame:
//
//	event: <signal>
//	data: <JSON of the event>
//	<blank line>
func (e Event) sse() []byte {
	if e.frame != nil {
		return e.frame
	}
	return encodeFrame(e)
}

func encodeFrame(e Event) []byte {
	payload := e.Payload
	if len(payload) == 0 {
		payload = emptyPayload
	}
	type wire struct {
		Signal  string          `json:"signal"`
		Payload json.RawMessage `json:"payload"`
	}
	// json.Marshal escapes line breaks, so data is one line. It fails only
	// for a Payload that is not valid JSON, which the hub never builds.
	data, err := json.Marshal(wire{e.Signal, payload})
	if err != nil {
		data, _ = json.Marshal(wire{e.Signal, emptyPayload}) // cannot fail: {} is valid JSON
	}
	b := make([]byte, 0, len("event: \ndata: \n\n")+len(e.Signal)+len(data))
	b = append(b, "event: "...)
	b = append(b, e.Signal...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return b
}
