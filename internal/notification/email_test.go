package notification

import (
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/mail"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// mailed is one message a test SMTP server accepted.
type mailed struct {
	from string
	to   []string
	data []byte
}

// startSMTP starts a plain SMTP server (go-smtp) on 127.0.0.1 that accepts
// every message, until the test ends. It returns its port and the
// messages it accepts.
func startSMTP(t *testing.T) (int, <-chan mailed) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan mailed, 16)
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{out: out}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = waitFor
	s.WriteTimeout = waitFor
	s.ErrorLog = log.New(io.Discard, "", 0) // failures show up in the delivery log
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()  // ErrServerClosed at worst
		_ = ln.Close() // in case Serve had not registered it yet
		if err := <-done; err != nil && err != smtp.ErrServerClosed {
			t.Errorf("SMTP server: %v", err)
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, out
}

// smtpSession is one connection to the test SMTP server.
type smtpSession struct {
	out chan<- mailed
	msg mailed
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg = mailed{from: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = data
	select {
	case s.out <- s.msg:
	default: // more messages than any test sends
	}
	return nil
}

func (s *smtpSession) Reset()        { s.msg = mailed{} }
func (s *smtpSession) Logout() error { return nil }

func TestAnEmailDeliveryReachesTheUsersOwnAddress(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		a := e.users(t, 1)[0]
		port, got := startSMTP(t)
		cfg := fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"from":"Checkstack <status@example.com>","security":"none"}`, port)
		if _, err := e.s.ConfigureChannel(t.Context(), ChannelInput{Channel: ChannelEmail, Enabled: true, Config: []byte(cfg)}); err != nil {
			t.Fatalf("ConfigureChannel: %v", err)
		}
		e.optIn(t, ChannelEmail, a.ID)
		e.start(t)

		n := e.notify(t, "Disk almost full on db-1", a.ID)
		m := receive(t, got, "the email")
		if m.from != "status@example.com" {
			t.Errorf("MAIL FROM = %q", m.from)
		}
		if len(m.to) != 1 || m.to[0] != a.Email {
			t.Errorf("RCPT TO = %q, want only the user's address %q", m.to, a.Email)
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
		if err != nil {
			t.Fatalf("read message: %v\n%s", err, m.data)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
		}
		if !strings.Contains(subject, "Disk almost full on db-1") {
			t.Errorf("Subject = %q, want the title", subject)
		}
		if to, err := mail.ParseAddress(msg.Header.Get("To")); err != nil || to.Address != a.Email || to.Name != a.Name {
			t.Errorf("To = %q (%v), want %s <%s>", msg.Header.Get("To"), err, a.Name, a.Email)
		}

		var mine Notification
		for _, x := range n {
			if x.UserID == a.ID {
				mine = x
			}
		}
		ds := e.settled(t)
		if d := deliveryOf(t, ds, mine.ID); d.Status != StatusDelivered || d.Attempts != 1 || d.Channel != ChannelEmail {
			t.Errorf("delivery log entry %+v, want delivered by email on attempt 1", d)
		}
		if len(ds) != 1 {
			t.Errorf("%d deliveries, want 1", len(ds))
		}
		select {
		case extra := <-got: // every delivery is done: nothing more can come
			t.Errorf("a second email went to %v", extra.to)
		default:
		}
	})
}
