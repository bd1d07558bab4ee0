package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/checkstack/checkstack/internal/delivery"
)

const webhookSecret = "0123456789abcdef-test-secret"

// sentAt is the clock of every Send in these tests.
var sentAt = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// sampleMessage is a notification with every field set.
func sampleMessage() delivery.Message {
	return delivery.Message{
		DeliveryID:     "d-7f3a",
		NotificationID: "n-42",
		UserID:         "u-1",
		UserEmail:      "ada@example.com",
		UserName:       "Ada Lovelace",
		Title:          "Database is slow",
		Body:           "p95 latency is **1.2 s**.\n\nSee the dashboard.",
		Importance:     "warning",
		ActionLabel:    "View incident",
		ActionURL:      "https://status.example.com/incidents/9",
		GroupID:        "g-db",
		CreatedAt:      time.Date(2025, 3, 14, 15, 9, 0, 0, time.UTC),
	}
}

// request is what a test receiver was sent.
type request struct {
	method string
	header http.Header
	body   []byte
}

// receiver starts an HTTP server that records each request it is sent and
// answers with respond.
func receiver(t *testing.T, respond http.HandlerFunc) (*httptest.Server, <-chan request) {
	t.Helper()
	got := make(chan request, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case got <- request{method: r.Method, header: r.Header.Clone(), body: body}:
		default: // more requests than any test sends
		}
		respond(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// answer responds with status, headers and body.
func answer(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body) // the client's view is what the test checks
	}
}

func TestWebhookSendsSignedJSON(t *testing.T) {
	srv, got := receiver(t, answer(http.StatusNoContent, ""))
	w := delivery.Webhook{Now: func() time.Time { return sentAt }}
	m := sampleMessage()
	if err := w.Send(t.Context(), delivery.WebhookConfig{URL: srv.URL + "/hook", Secret: webhookSecret}, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := <-got

	if req.method != http.MethodPost {
		t.Errorf("method = %s, want POST", req.method)
	}
	var decoded delivery.Message
	if err := json.Unmarshal(req.body, &decoded); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, req.body)
	}
	if decoded != m {
		t.Errorf("body decodes to\n%+v\nwant\n%+v", decoded, m)
	}
	for name, want := range map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "checkstack-webhook/1",
		"X-Checkstack-Event":    "notification",
		"X-Checkstack-Delivery": m.DeliveryID,
	} {
		if got := req.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	sig := req.header.Get("X-Checkstack-Signature")
	if want := fmt.Sprintf("t=%d,v1=", sentAt.Unix()); !strings.HasPrefix(sig, want) {
		t.Errorf("X-Checkstack-Signature = %q, want it to begin %q", sig, want)
	}
	if err := delivery.Verify(webhookSecret, sig, req.body, sentAt.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify with the right secret: %v", err)
	}
	if err := delivery.Verify("another-secret-of-some-length", sig, req.body, sentAt, 5*time.Minute); err == nil {
		t.Error("Verify accepted the signature with the wrong secret")
	}
	tampered := strings.Replace(string(req.body), "Database is slow", "Database is fine", 1)
	if err := delivery.Verify(webhookSecret, sig, []byte(tampered), sentAt, 5*time.Minute); err == nil {
		t.Error("Verify accepted a tampered body")
	}
	if err := delivery.Verify(webhookSecret, sig, req.body, sentAt.Add(10*time.Minute), 5*time.Minute); err == nil {
		t.Error("Verify accepted a signature 10 minutes old with a 5 minute tolerance")
	}
}

func TestVerify(t *testing.T) {
	// A body and the header Send wrote for it at sentAt.
	srv, got := receiver(t, answer(http.StatusOK, ""))
	w := delivery.Webhook{Now: func() time.Time { return sentAt }}
	if err := w.Send(t.Context(), delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, delivery.Message{DeliveryID: "d-1"}); err != nil {
		t.Fatal(err)
	}
	req := <-got
	body := req.body
	sig := req.header.Get("X-Checkstack-Signature")
	t1, v1, _ := strings.Cut(sig, ",")

	tests := []struct {
		name    string
		secret  string
		header  string
		body    []byte
		now     time.Time
		wantErr string // "" for success
	}{
		{name: "the header Send wrote verifies", secret: webhookSecret, header: sig, body: body, now: sentAt},
		{name: "a timestamp just within tolerance verifies", secret: webhookSecret, header: sig, body: body, now: sentAt.Add(5 * time.Minute)},
		{name: "a clock a little behind the sender's verifies", secret: webhookSecret, header: sig, body: body, now: sentAt.Add(-time.Minute)},
		{name: "spaces after commas are allowed", secret: webhookSecret, header: t1 + ", " + v1, body: body, now: sentAt},
		{name: "one matching v1 among several verifies", secret: webhookSecret, header: t1 + ",v1=" + strings.Repeat("ab", 32) + "," + v1, body: body, now: sentAt},
		{name: "unknown keys are ignored", secret: webhookSecret, header: sig + ",v2=whatever", body: body, now: sentAt},
		{name: "the wrong secret does not verify", secret: "not-the-secret-at-all", header: sig, body: body, now: sentAt, wantErr: "does not match"},
		{name: "a tampered body does not verify", secret: webhookSecret, header: sig, body: append(body[:len(body):len(body)], ' '), now: sentAt, wantErr: "does not match"},
		{name: "a changed timestamp does not verify", secret: webhookSecret, header: fmt.Sprintf("t=%d,%s", sentAt.Unix()+1, v1), body: body, now: sentAt, wantErr: "does not match"},
		{name: "a stale timestamp does not verify", secret: webhookSecret, header: sig, body: body, now: sentAt.Add(5*time.Minute + time.Second), wantErr: "outside tolerance"},
		{name: "a timestamp in the future does not verify", secret: webhookSecret, header: sig, body: body, now: sentAt.Add(-time.Hour), wantErr: "outside tolerance"},
		{name: "an empty header does not verify", secret: webhookSecret, header: "", body: body, now: sentAt, wantErr: "malformed"},
		{name: "a header without v1 does not verify", secret: webhookSecret, header: t1, body: body, now: sentAt, wantErr: "no v1"},
		{name: "a header without t does not verify", secret: webhookSecret, header: v1, body: body, now: sentAt, wantErr: "no t"},
		{name: "a v1 that is not hex does not verify", secret: webhookSecret, header: t1 + ",v1=zz", body: body, now: sentAt, wantErr: "not hex"},
		{name: "a t that is not a number does not verify", secret: webhookSecret, header: "t=soon," + v1, body: body, now: sentAt, wantErr: "not a Unix time"},
		{name: "an empty secret verifies nothing", secret: "", header: sig, body: body, now: sentAt, wantErr: "empty secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := delivery.Verify(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Verify: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Verify accepted it, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Verify: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// wantFailure fails the test unless err is an *delivery.Error that is
// permanent or retryable as wanted.
func wantFailure(t *testing.T, err error, permanent bool) {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want it to fail")
	}
	var e *delivery.Error
	if !errors.As(err, &e) {
		t.Fatalf("Send: %v (%T), want a *delivery.Error", err, err)
	}
	if got := delivery.IsPermanent(err); got != permanent {
		t.Errorf("IsPermanent = %v, want %v (error: %v)", got, permanent, err)
	}
	t.Logf("error: %v", err)
}

func TestWebhookClassifiesAnswers(t *testing.T) {
	redirected := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		redirected <- struct{}{}
	})
	moved := httptest.NewServer(mux)
	t.Cleanup(moved.Close)

	tests := []struct {
		name       string
		respond    http.HandlerFunc
		ok         bool
		permanent  bool
		retryAfter time.Duration
		message    string // part of the error message
	}{
		{name: "a 200 is success", respond: answer(200, "thanks"), ok: true},
		{name: "a 204 is success", respond: answer(204, ""), ok: true},
		{name: "a 500 is retryable", respond: answer(500, "oops"), message: "status 500 Internal Server Error: oops"},
		{name: "a 502 is retryable", respond: answer(502, "")},
		{name: "a 503 with Retry-After 7 is retryable after 7s", respond: answer(503, "", "Retry-After", "7"), retryAfter: 7 * time.Second, message: "retry after 7s"},
		{name: "a 503 with a Retry-After date is retryable after the wait until then", respond: answer(503, "", "Retry-After", sentAt.Add(2*time.Minute).Format(http.TimeFormat)), retryAfter: 2 * time.Minute},
		{name: "a 429 is retryable", respond: answer(429, "slow down")},
		{name: "a 429 with a Retry-After of a day waits an hour at most", respond: answer(429, "", "Retry-After", "86400"), retryAfter: time.Hour},
		{name: "a 429 with an unreadable Retry-After waits for nothing in particular", respond: answer(429, "", "Retry-After", "later")},
		{name: "a Retry-After on a 500 is not honoured", respond: answer(500, "", "Retry-After", "7")},
		{name: "a 408 is retryable", respond: answer(408, "")},
		{name: "a 400 is permanent", respond: answer(400, "bad payload"), permanent: true, message: "status 400 Bad Request: bad payload"},
		{name: "a 404 is permanent", respond: answer(404, ""), permanent: true, message: "status 404"},
		{name: "a 410 is permanent", respond: answer(410, ""), permanent: true},
		{name: "a 301 is permanent and not followed", permanent: true, message: "status 301"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := moved.URL + "/moved"
			if tt.respond != nil {
				srv, _ := receiver(t, tt.respond)
				url = srv.URL
			}
			var w delivery.Webhook // the default client: redirects are not followed
			w.Now = func() time.Time { return sentAt }
			err := w.Send(t.Context(), delivery.WebhookConfig{URL: url, Secret: webhookSecret}, sampleMessage())
			if tt.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			wantFailure(t, err, tt.permanent)
			if got := delivery.RetryAfter(err); got != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
		})
	}
	select {
	case <-redirected:
		t.Error("the redirect was followed")
	default:
	}
}

func TestWebhookErrorQuotesTheAnswer(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // the quoted part of the message, exactly
	}{
		{name: "a long body is cut at 512 bytes", body: strings.Repeat("y", 2000), want: strings.Repeat("y", 512)},
		{name: "control characters are removed and line breaks become spaces", body: "bad\x1b[31m\x00 thing\r\nnext\tline", want: "bad[31m thing  next line"},
		{name: "a multi-byte character cut at 512 bytes is dropped whole", body: strings.Repeat("y", 511) + "é", want: strings.Repeat("y", 511)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := receiver(t, answer(500, tt.body))
			var w delivery.Webhook
			err := w.Send(t.Context(), delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, sampleMessage())
			wantFailure(t, err, false)
			_, quoted, _ := strings.Cut(err.Error(), "Internal Server Error: ")
			if quoted != tt.want {
				t.Errorf("quoted body = %q, want %q", quoted, tt.want)
			}
			if strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Errorf("error %q contains control characters", err)
			}
		})
	}
}

func TestWebhookErrorDoesNotNameThePath(t *testing.T) {
	srv, _ := receiver(t, answer(404, ""))
	var w delivery.Webhook
	err := w.Send(t.Context(), delivery.WebhookConfig{URL: srv.URL + "/hooks/T0KEN?key=S3CRET", Secret: webhookSecret}, sampleMessage())
	wantFailure(t, err, true)
	if msg := err.Error(); strings.Contains(msg, "T0KEN") || strings.Contains(msg, "S3CRET") {
		t.Errorf("error %q shows the URL's path or query", msg)
	}
	if !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error %q does not name the receiver %s", err, srv.URL)
	}
}

func TestWebhookClosedPortIsRetryable(t *testing.T) {
	var w delivery.Webhook
	url := fmt.Sprintf("http://127.0.0.1:%d/hook", refusedPort(t))
	err := w.Send(t.Context(), delivery.WebhookConfig{URL: url, Secret: webhookSecret}, sampleMessage())
	wantFailure(t, err, false)
	if strings.Contains(err.Error(), "/hook") {
		t.Errorf("error %q shows the URL's path", err)
	}
}

// hangingReceiver starts an HTTP server that announces each request on
// the returned channel and then never answers it.
func hangingReceiver(t *testing.T) (*httptest.Server, <-chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done(): // the client gave up
		case <-release: // the test is over
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for handlers
	return srv, arrived
}

func TestWebhookTimesOutWhenTheReceiverHangs(t *testing.T) {
	srv, _ := hangingReceiver(t)
	const timeout = 200 * time.Millisecond
	w := delivery.Webhook{Client: &http.Client{Timeout: timeout}}
	start := time.Now()
	err := w.Send(t.Context(), delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, sampleMessage())
	elapsed := time.Since(start)
	wantFailure(t, err, false)
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("Send took %v, want about %v", elapsed, timeout)
	}
}

func TestWebhookReturnsTheCallersContextError(t *testing.T) {
	t.Run("a context cancelled during the request", func(t *testing.T) {
		srv, arrived := hangingReceiver(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-arrived
			cancel()
		}()
		var w delivery.Webhook
		err := w.Send(ctx, delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, sampleMessage())
		if err != context.Canceled {
			t.Errorf("Send: %v (%T), want context.Canceled as is", err, err)
		}
	})
	t.Run("a context cancelled before Send sends nothing", func(t *testing.T) {
		srv, got := receiver(t, answer(200, ""))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var w delivery.Webhook
		err := w.Send(ctx, delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, sampleMessage())
		if err != context.Canceled {
			t.Errorf("Send: %v (%T), want context.Canceled as is", err, err)
		}
		select {
		case <-got:
			t.Error("the receiver was sent a request")
		default:
		}
	})
	t.Run("a context whose deadline passes during the request", func(t *testing.T) {
		srv, _ := hangingReceiver(t)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		var w delivery.Webhook // its 10 s timeout is not what ends the attempt
		err := w.Send(ctx, delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, sampleMessage())
		if err != context.DeadlineExceeded {
			t.Errorf("Send: %v (%T), want context.DeadlineExceeded as is", err, err)
		}
	})
}

func TestWebhookRefusesWhatCannotBeSent(t *testing.T) {
	srv, got := receiver(t, answer(200, ""))
	noID := sampleMessage()
	noID.DeliveryID = ""
	brokenID := sampleMessage()
	brokenID.DeliveryID = "d-1\r\nX-Evil: 1"
	tests := []struct {
		name string
		cfg  delivery.WebhookConfig
		m    delivery.Message
		want string
	}{
		{name: "an invalid config is permanent", cfg: delivery.WebhookConfig{URL: "ftp://example.com", Secret: webhookSecret}, m: sampleMessage(), want: "config.url"},
		{name: "a short secret is permanent", cfg: delivery.WebhookConfig{URL: srv.URL, Secret: "short"}, m: sampleMessage(), want: "config.secret"},
		{name: "a message without a delivery ID is permanent", cfg: delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, m: noID, want: "deliveryId"},
		{name: "a delivery ID with a line break is permanent", cfg: delivery.WebhookConfig{URL: srv.URL, Secret: webhookSecret}, m: brokenID, want: "deliveryId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w delivery.Webhook
			err := w.Send(t.Context(), tt.cfg, tt.m)
			wantFailure(t, err, true)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	select {
	case <-got:
		t.Error("the receiver was sent a request")
	default:
	}
}
