package delivery_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/checkstack/checkstack/internal/delivery"
)

// plainConfig is an EmailConfig for a test server without TLS.
func plainConfig(srv *smtpServer) delivery.EmailConfig {
	return delivery.EmailConfig{
		Host:     "127.0.0.1",
		Port:     srv.port,
		From:     "Checkstack <status@example.com>",
		Security: "none",
	}
}

// newEmail is an Email with the test clock and a short timeout.
func newEmail() *delivery.Email {
	return &delivery.Email{Timeout: waitFor, Now: func() time.Time { return sentAt }}
}

// parse reads a message a test server received, failing the test if it is
// not one.
func parse(t *testing.T, data []byte) *mail.Message {
	t.Helper()
	for i, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i+1, len(line))
		}
	}
	for _, c := range data {
		if c >= 0x80 {
			t.Errorf("the message has 8-bit data:\n%s", data)
			break
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, data)
	}
	return msg
}

// subject returns msg's Subject, decoded.
func subject(t *testing.T, msg *mail.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	return s
}

// text returns msg's body, quoted-printable decoded, with LF line ends and
// without the line break that ends every SMTP message.
func text(t *testing.T, msg *mail.Message) string {
	t.Helper()
	b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
}

func TestEmailDeliversAMessage(t *testing.T) {
	srv := startSMTP(t, smtpOptions{})
	m := sampleMessage()
	// Lines that quoted-printable and SMTP must carry intact: a long one,
	// an '=', trailing spaces and a lone dot.
	m.Body = "p95 latency is **1.2 s** = " + strings.Repeat("slow ", 30) + "\n.\nend with spaces  \n\nSee the dashboard."
	if err := newEmail().Send(t.Context(), plainConfig(srv), "ada@example.com", m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.next(t)
	if got.from != "status@example.com" {
		t.Errorf("MAIL FROM = %q, want status@example.com", got.from)
	}
	if len(got.to) != 1 || got.to[0] != "ada@example.com" {
		t.Errorf("RCPT TO = %q, want [ada@example.com]", got.to)
	}
	msg := parse(t, got.data)

	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Checkstack" || from[0].Address != "status@example.com" {
		t.Errorf("From = %v (%v), want Checkstack <status@example.com>", from, err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Ada Lovelace" || to[0].Address != "ada@example.com" {
		t.Errorf("To = %v (%v), want Ada Lovelace <ada@example.com>", to, err)
	}
	if got, want := subject(t, msg), "[warning] Database is slow"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if date, err := msg.Header.Date(); err != nil || !date.Equal(sentAt) {
		t.Errorf("Date = %v (%v), want %v", date, err, sentAt)
	}
	for name, want := range map[string]string{
		"Message-Id":                "<d-7f3a@checkstack>",
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := msg.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got, want := text(t, msg), m.Body+"\n\nView incident: https://status.example.com/incidents/9"; got != want {
		t.Errorf("body =\n%q\nwant\n%q", got, want)
	}
}

func TestEmailComposesTheMessage(t *testing.T) {
	srv := startSMTP(t, smtpOptions{})
	tests := []struct {
		name     string
		edit     func(*delivery.Message)
		to       string
		subject  string
		body     string // "" skips the check
		toName   string
		msgID    string // "" skips the check
		rawParts []string
	}{
		{
			name:     "a non-ASCII title is Q-encoded and decodes back",
			edit:     func(m *delivery.Message) { m.Title = "Überlastung — 数据库 langsam" },
			subject:  "[warning] Überlastung — 数据库 langsam",
			rawParts: []string{"Subject: =?utf-8?q?"},
		},
		{
			name:    "a long title is folded and unfolds back",
			edit:    func(m *delivery.Message) { m.Title = strings.Repeat("very long title ", 20) + "end" },
			subject: "[warning] " + strings.Repeat("very long title ", 20) + "end",
		},
		{
			name:    "a long non-ASCII title is folded and decodes back",
			edit:    func(m *delivery.Message) { m.Title = strings.Repeat("Überlastung ", 20) },
			subject: "[warning] " + strings.Repeat("Überlastung ", 20),
		},
		{
			name:    "an action without a label reads Open",
			edit:    func(m *delivery.Message) { m.ActionLabel = ""; m.Body = "Look." },
			subject: "[warning] Database is slow",
			body:    "Look.\n\nOpen: https://status.example.com/incidents/9",
		},
		{
			name:    "no action link is written without an action URL",
			edit:    func(m *delivery.Message) { m.ActionURL = ""; m.Body = "Look." },
			subject: "[warning] Database is slow",
			body:    "Look.",
		},
		{
			name:    "a name in the recipient address wins over the user's name",
			edit:    func(m *delivery.Message) {},
			to:      "Countess <ada@example.com>",
			subject: "[warning] Database is slow",
			toName:  "Countess",
		},
		{
			name:    "a delivery ID with odd characters makes a valid Message-ID",
			edit:    func(m *delivery.Message) { m.DeliveryID = "a b@c>d" },
			subject: "[warning] Database is slow",
			msgID:   "<a=20b=40c=3Ed@checkstack>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleMessage()
			tt.edit(&m)
			to := tt.to
			if to == "" {
				to = "ada@example.com"
			}
			if err := newEmail().Send(t.Context(), plainConfig(srv), to, m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.next(t)
			msg := parse(t, got.data)
			if s := subject(t, msg); s != tt.subject {
				t.Errorf("Subject = %q, want %q", s, tt.subject)
			}
			if tt.body != "" {
				if b := text(t, msg); b != tt.body {
					t.Errorf("body = %q, want %q", b, tt.body)
				}
			}
			if tt.toName != "" {
				if addr, err := mail.ParseAddress(msg.Header.Get("To")); err != nil || addr.Name != tt.toName {
					t.Errorf("To = %q (%v), want the name %q", msg.Header.Get("To"), err, tt.toName)
				}
			}
			if tt.msgID != "" {
				if id := msg.Header.Get("Message-Id"); id != tt.msgID {
					t.Errorf("Message-ID = %q, want %q", id, tt.msgID)
				}
				if _, err := msg.Header.AddressList("Message-Id"); err != nil {
					t.Errorf("Message-ID %q does not parse as an addr-spec: %v", msg.Header.Get("Message-Id"), err)
				}
			}
			for _, part := range tt.rawParts {
				if !bytes.Contains(got.data, []byte(part)) {
					t.Errorf("message does not contain %q:\n%s", part, got.data)
				}
			}
		})
	}
}

func TestEmailKeepsLineBreaksOutOfHeaders(t *testing.T) {
	srv := startSMTP(t, smtpOptions{})
	m := sampleMessage()
	m.Title = "Disk full\r\nBcc: evil@example.com"
	m.UserName = "Ada\nBcc: evil2@example.com"
	m.Importance = "info\rX-Evil: 1"
	if err := newEmail().Send(t.Context(), plainConfig(srv), "ada@example.com", m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.next(t)
	if len(got.to) != 1 || got.to[0] != "ada@example.com" {
		t.Errorf("RCPT TO = %q, want only ada@example.com", got.to)
	}
	msg := parse(t, got.data)
	for _, name := range []string{"Bcc", "X-Evil"} {
		if v, ok := msg.Header[name]; ok {
			t.Errorf("the message has a %s header: %q\n%s", name, v, got.data)
		}
	}
	if s := subject(t, msg); !strings.Contains(s, "Disk full") || !strings.Contains(s, "Bcc: evil@example.com") || strings.ContainsAny(s, "\r\n") {
		t.Errorf("Subject = %q, want the whole title on one line", s)
	}
	if to := msg.Header.Get("To"); strings.ContainsAny(to, "\r\n") {
		t.Errorf("To = %q, want one line", to)
	}
}

func TestEmailAuthenticates(t *testing.T) {
	tests := []struct {
		name       string
		mechanisms []string // offered by the server
		password   string   // sent by the client; the server wants "hunter2-correct"
		noAuth     bool     // the server offers no AUTH at all
		ok         bool
		message    string
	}{
		{name: "AUTH PLAIN with the right password delivers", mechanisms: []string{"PLAIN"}, password: "hunter2-correct", ok: true},
		{name: "AUTH PLAIN with the wrong password is permanent", mechanisms: []string{"PLAIN"}, password: "wrong", message: "535"},
		{name: "AUTH LOGIN is used when the server offers only that", mechanisms: []string{"LOGIN"}, password: "hunter2-correct", ok: true},
		{name: "AUTH LOGIN with the wrong password is permanent", mechanisms: []string{"LOGIN"}, password: "wrong", message: "535"},
		{name: "a server offering no mechanism we know is permanent", mechanisms: []string{"CRAM-MD5"}, password: "hunter2-correct", message: "no supported AUTH mechanism"},
		{name: "a server offering no AUTH is permanent", noAuth: true, password: "hunter2-correct", message: "offers no AUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := smtpOptions{username: "status", password: "hunter2-correct", mechanisms: tt.mechanisms}
			if tt.noAuth {
				opts = smtpOptions{}
			}
			srv := startSMTP(t, opts)
			cfg := plainConfig(srv) // AUTH over plain text is allowed to loopback
			cfg.Username = "status"
			cfg.Password = tt.password
			err := newEmail().Send(t.Context(), cfg, "ada@example.com", sampleMessage())
			if tt.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				srv.next(t)
				return
			}
			wantFailure(t, err, true)
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
			srv.none(t)
		})
	}
}

func TestEmailClassifiesReplies(t *testing.T) {
	tests := []struct {
		name      string
		opts      smtpOptions
		permanent bool
		message   string
	}{
		{
			name:      "a recipient rejected with 550 is permanent",
			opts:      smtpOptions{rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}},
			permanent: true,
			message:   "RCPT TO: 550",
		},
		{
			name:    "a recipient deferred with 451 is retryable",
			opts:    smtpOptions{rcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}},
			message: "RCPT TO: 451",
		},
		{
			name:    "a message deferred with 451 at the end of DATA is retryable",
			opts:    smtpOptions{dataErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error"}},
			message: "end of DATA: 451",
		},
		{
			name:      "a message refused with 554 at the end of DATA is permanent",
			opts:      smtpOptions{dataErr: &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Spam"}},
			permanent: true,
			message:   "end of DATA: 554",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			err := newEmail().Send(t.Context(), plainConfig(srv), "ada@example.com", sampleMessage())
			wantFailure(t, err, tt.permanent)
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
			srv.none(t)
		})
	}
}

func TestEmailOverTLS(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	trusting := &tls.Config{RootCAs: roots}
	tests := []struct {
		name      string
		opts      smtpOptions
		security  string
		clientTLS *tls.Config
		ok        bool
		message   string
	}{
		{name: "starttls delivers over TLS", opts: smtpOptions{startTLS: serverTLS}, security: "starttls", clientTLS: trusting, ok: true},
		{name: "an empty security means starttls", opts: smtpOptions{startTLS: serverTLS}, security: "", clientTLS: trusting, ok: true},
		{name: "starttls authenticates over TLS", opts: smtpOptions{startTLS: serverTLS, username: "status", password: "hunter2-correct"}, security: "starttls", clientTLS: trusting, ok: true},
		{name: "starttls fails permanently when the server does not offer it", opts: smtpOptions{}, security: "starttls", clientTLS: trusting, message: "does not offer STARTTLS"},
		{name: "starttls fails permanently on a certificate the client does not trust", opts: smtpOptions{startTLS: serverTLS}, security: "starttls", clientTLS: &tls.Config{RootCAs: x509.NewCertPool()}, message: "certificate"},
		{name: "implicit tls delivers", opts: smtpOptions{implicitTLS: serverTLS}, security: "tls", clientTLS: trusting, ok: true},
		{name: "implicit tls authenticates", opts: smtpOptions{implicitTLS: serverTLS, username: "status", password: "hunter2-correct"}, security: "tls", clientTLS: trusting, ok: true},
		{name: "implicit tls fails permanently against a plain server", opts: smtpOptions{}, security: "tls", clientTLS: trusting, message: "TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			cfg := plainConfig(srv)
			cfg.Security = tt.security
			if tt.opts.username != "" {
				cfg.Username, cfg.Password = tt.opts.username, tt.opts.password
			}
			e := newEmail()
			e.TLSConfig = tt.clientTLS
			err := e.Send(t.Context(), cfg, "ada@example.com", sampleMessage())
			if tt.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if got := srv.next(t); !got.tls {
					t.Error("the message did not come over TLS")
				}
				return
			}
			wantFailure(t, err, true)
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
			srv.none(t)
		})
	}
	if trusting.ServerName != "" {
		t.Errorf("Send changed the caller's TLSConfig: ServerName = %q", trusting.ServerName)
	}
}

func TestEmailGivesUpOnAServerThatNeverAnswers(t *testing.T) {
	port, _ := hangingServer(t, false)
	const timeout = 300 * time.Millisecond
	e := &delivery.Email{Timeout: timeout}
	cfg := delivery.EmailConfig{Host: "127.0.0.1", Port: port, From: "status@example.com", Security: "none"}
	start := time.Now()
	err := e.Send(t.Context(), cfg, "ada@example.com", sampleMessage())
	elapsed := time.Since(start)
	wantFailure(t, err, false)
	if !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("error %q does not say it timed out", err)
	}
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("Send took %v, want about %v", elapsed, timeout)
	}
}

func TestEmailGivesUpOnAServerThatNeverAnswersTLS(t *testing.T) {
	port, _ := hangingServer(t, false)
	const timeout = 300 * time.Millisecond
	e := &delivery.Email{Timeout: timeout}
	cfg := delivery.EmailConfig{Host: "127.0.0.1", Port: port, From: "status@example.com", Security: "tls"}
	start := time.Now()
	err := e.Send(t.Context(), cfg, "ada@example.com", sampleMessage())
	elapsed := time.Since(start)
	wantFailure(t, err, false)
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("Send took %v, want about %v", elapsed, timeout)
	}
}

func TestEmailRefusedConnectionIsRetryable(t *testing.T) {
	cfg := delivery.EmailConfig{Host: "127.0.0.1", Port: refusedPort(t), From: "status@example.com", Security: "none"}
	err := newEmail().Send(t.Context(), cfg, "ada@example.com", sampleMessage())
	wantFailure(t, err, false)
}

func TestEmailReturnsTheCallersContextError(t *testing.T) {
	t.Run("a context cancelled while the server is silent", func(t *testing.T) {
		port, waiting := hangingServer(t, true)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-waiting // the client has sent EHLO and waits for the reply
			cancel()
		}()
		cfg := delivery.EmailConfig{Host: "127.0.0.1", Port: port, From: "status@example.com", Security: "none"}
		e := newEmail()
		e.Timeout = time.Minute // so that only the cancellation can end it in time
		start := time.Now()
		err := e.Send(ctx, cfg, "ada@example.com", sampleMessage())
		if err != context.Canceled {
			t.Errorf("Send: %v (%T), want context.Canceled as is", err, err)
		}
		if elapsed := time.Since(start); elapsed > waitFor {
			t.Errorf("Send took %v after the cancellation", elapsed)
		}
	})
	t.Run("a context cancelled before Send", func(t *testing.T) {
		srv := startSMTP(t, smtpOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := newEmail().Send(ctx, plainConfig(srv), "ada@example.com", sampleMessage())
		if err != context.Canceled {
			t.Errorf("Send: %v (%T), want context.Canceled as is", err, err)
		}
		srv.none(t)
	})
}

func TestEmailRefusesWhatCannotBeSent(t *testing.T) {
	// Nothing listens here: an attempt to connect would be retryable, so a
	// permanent error shows Send did not try.
	port := refusedPort(t)
	good := delivery.EmailConfig{Host: "127.0.0.1", Port: port, From: "status@example.com", Security: "none"}
	noID := sampleMessage()
	noID.DeliveryID = ""
	tests := []struct {
		name  string
		cfg   delivery.EmailConfig
		to    string
		m     delivery.Message
		email delivery.Email
		want  string
	}{
		{name: "a recipient that is not an address", cfg: good, to: "not an address", m: sampleMessage(), want: "recipient"},
		{name: "a recipient with a line break", cfg: good, to: "ada@example.com\r\nRCPT TO:<evil@example.com>", m: sampleMessage(), want: "recipient"},
		{name: "an empty recipient", cfg: good, to: "", m: sampleMessage(), want: "recipient"},
		{name: "an invalid config", cfg: delivery.EmailConfig{Host: "127.0.0.1", Port: port, From: "nobody"}, to: "ada@example.com", m: sampleMessage(), want: "config.from"},
		{name: "a message without a delivery ID", cfg: good, to: "ada@example.com", m: noID, want: "deliveryId"},
		{name: "a HELO name with a line break", cfg: good, to: "ada@example.com", m: sampleMessage(), email: delivery.Email{HeloName: "me\r\nRSET"}, want: "HELO name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.email.Send(t.Context(), tt.cfg, tt.to, tt.m)
			wantFailure(t, err, true)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
