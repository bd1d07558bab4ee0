package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/checkstack/checkstack/internal/rpc"
)

const (
	emailTimeout = 30 * time.Second // of a whole attempt, by default
	portSubmit   = 587              // the default port, and STARTTLS's
	portTLS      = 465              // the default port with Security "tls"

	// foldWidth is the length past which a header value is folded, leaving
	// room for the name before it within RFC 5322's 78 characters.
	foldWidth = 64
)

// Security modes of an EmailConfig.
const (
	securityStartTLS = "starttls"
	securityTLS      = "tls"
	securityNone     = "none"
)

// Failures that the same config would meet on every attempt.
var (
	errNoStartTLS    = errors.New("server does not offer STARTTLS")
	errAuthMechanism = errors.New("no supported AUTH mechanism")
	errPlainTextAuth = errors.New("refusing to send a password over a connection without TLS")
)

// EmailConfig is the admin's SMTP channel configuration.
type EmailConfig struct {
	// Host is the SMTP server's name or IP address, without a port.
	Host string `json:"host"`
	// Port is 1-65535; 0 means 465 with Security "tls" and 587 otherwise.
	Port int `json:"port"`
	// Username, when set, is sent with Password in AUTH PLAIN (or LOGIN,
	// when the server offers only that). Empty sends no AUTH.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is an address, optionally with a name: "Checkstack <status@example.com>".
	From string `json:"from"`
	// Security is "starttls" (the default when empty: the server must
	// offer STARTTLS), "tls" (implicit TLS, as on port 465) or "none"
	// (plain text, where AUTH is refused unless the host is loopback).
	Security string `json:"security"`
}

// Validate normalises nothing; it checks and returns rpc.Invalid errors
// naming config.host, config.port, config.from, config.security or
// config.password (required when username is set).
func (c EmailConfig) Validate() error {
	if c.Host == "" {
		return rpc.Invalid("config.host", "required")
	}
	if !validHost(c.Host) {
		return rpc.Invalid("config.host", "must be a host name or IP address, without a port")
	}
	if c.Port < 0 || c.Port > 65535 {
		return rpc.Invalid("config.port", "must be between 1 and 65535, or 0 for the default")
	}
	if c.From == "" {
		return rpc.Invalid("config.from", "required")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return rpc.Invalid("config.from", `must be an address such as "status@example.com" or "Checkstack <status@example.com>"`)
	}
	switch c.Security {
	case "", securityStartTLS, securityTLS, securityNone:
	default:
		return rpc.Invalid("config.security", `must be "starttls", "tls" or "none"`)
	}
	if c.Username != "" && c.Password == "" {
		return rpc.Invalid("config.password", "required when a username is set")
	}
	if c.Username != "" && c.Security == securityNone && !isLoopback(c.Host) {
		return rpc.Invalid("config.security", `"none" would send the password in plain text; use "starttls" or "tls", or a loopback host`)
	}
	return nil
}

// validHost reports whether h is an IP address or a plausible host name:
// letters, digits, hyphens, underscores and dots, at most 253 bytes.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, c := range []byte(h) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// isLoopback reports whether host is "localhost" or a loopback IP address:
// the connection never leaves the machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// security is c.Security with its default filled in.
func (c EmailConfig) security() string {
	if c.Security == "" {
		return securityStartTLS
	}
	return c.Security
}

// addr is host:port with the default port filled in.
func (c EmailConfig) addr() string {
	port := c.Port
	if port == 0 {
		port = portSubmit
		if c.security() == securityTLS {
			port = portTLS
		}
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// Email sends messages over SMTP. The zero value works.
type Email struct {
	// Timeout bounds a whole attempt, from dial to QUIT. 0 means 30 s.
	Timeout time.Duration
	// TLSConfig is used for STARTTLS and implicit TLS. nil trusts the
	// system's roots; either way, an empty ServerName is set to the
	// config's Host.
	TLSConfig *tls.Config
	// HeloName is the name sent in EHLO. "" means "localhost".
	HeloName string
	// Now is the clock the Date header is read from. nil uses time.Now.
	Now func() time.Time
}

func (e *Email) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return emailTimeout
}

func (e *Email) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Email) tlsConfig(host string) *tls.Config {
	var c *tls.Config
	if e.TLSConfig != nil {
		c = e.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

// Send sends m to the address to, one attempt bounded by e.Timeout and
// ctx. SMTP 5xx replies (a rejected recipient, failed AUTH) are permanent,
// as are a bad config or recipient address, a server that does not offer
// STARTTLS when Security is "starttls", and a TLS certificate that does
// not verify; 4xx replies and network errors (a timeout included) are
// retryable. When ctx ends, Send returns ctx.Err() as is, not an *Error.
//
// Once the server has accepted the message, Send reports success even if
// QUIT then fails: retrying would deliver it twice.
func (e *Email) Send(ctx context.Context, cfg EmailConfig, to string, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return permanent(err)
	}
	if strings.ContainsFunc(e.HeloName, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return permanent(fmt.Errorf("email: HELO name %q contains spaces or control characters", e.HeloName))
	}
	from, err := mail.ParseAddress(cfg.From) // Validate parsed it already
	if err != nil {
		return permanent(fmt.Errorf("email: from: %w", err))
	}
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return permanent(fmt.Errorf("email: recipient %q: %w", oneLine(to), err))
	}
	if err := m.check(); err != nil {
		return permanent(fmt.Errorf("email: %w", err))
	}
	msg, err := e.compose(from, rcpt, m)
	if err != nil {
		return permanent(fmt.Errorf("email: %w", err))
	}

	attempt, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	err = e.send(attempt, cfg, from.Address, rcpt.Address, msg)
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (timed out after %v)", err, e.timeout())
	}
	err = fmt.Errorf("email via %s: %w", cfg.addr(), err)
	var reply *textproto.Error
	switch {
	case errors.As(err, &reply):
		return &Error{Permanent: reply.Code >= 500 && reply.Code <= 599, Err: err}
	case errors.Is(err, errNoStartTLS), errors.Is(err, errAuthMechanism), errors.Is(err, errPlainTextAuth), tlsConfigError(err):
		return permanent(err)
	}
	return retryable(err)
}

// send is one SMTP session: dial, greeting, EHLO, STARTTLS or not, AUTH
// or not, MAIL, RCPT, DATA, QUIT. Every step runs under ctx's deadline,
// set on the connection so that a server that stops answering cannot hold
// it longer; ctx ending sooner cuts it off too.
func (e *Email) send(ctx context.Context, cfg EmailConfig, from, to string, msg []byte) error {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", cfg.addr())
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	// Closing twice (the client closes it too) reports nothing useful.
	defer func() { _ = conn.Close() }()
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past wakes every blocked read and write; the
		// error is the one they then return.
		_ = conn.SetDeadline(time.Unix(1, 0))
	})
	defer stop()

	tlsConfig := e.tlsConfig(cfg.Host)
	security := cfg.security()
	var c *smtp.Client
	if security == securityTLS {
		tlsConn := tls.Client(conn, tlsConfig)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c, err = smtp.NewClient(tlsConn, cfg.Host)
	} else {
		c, err = smtp.NewClient(conn, cfg.Host)
	}
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer func() { _ = c.Close() }() // as conn above

	helo := e.HeloName
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if security == securityStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errNoStartTLS
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("AUTH: %w: the server offers no AUTH", errAuthMechanism)
		}
		if err := c.Auth(&plainOrLogin{username: cfg.Username, password: cfg.Password, host: cfg.Host}); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of DATA: %w", err)
	}
	// The server has taken the message: a failed QUIT must not make the
	// caller send it again.
	_ = c.Quit()
	return nil
}

// plainOrLogin is an smtp.Auth that sends PLAIN, or LOGIN when the server
// offers only that (as some hosted services do). It refuses to send the
// password over plain text unless the host is loopback.
type plainOrLogin struct {
	username, password, host string
	login                    bool // LOGIN was chosen
}

func (a *plainOrLogin) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(a.host) {
		return "", nil, errPlainTextAuth
	}
	offers := func(mech string) bool {
		for _, m := range server.Auth {
			if strings.EqualFold(m, mech) {
				return true
			}
		}
		return false
	}
	switch {
	case offers("PLAIN"):
		return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
	case offers("LOGIN"):
		a.login = true
		return "LOGIN", nil, nil
	}
	return "", nil, fmt.Errorf("%w: the server offers %s", errAuthMechanism, strings.Join(server.Auth, " "))
}

func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	if !a.login {
		return nil, errors.New("unexpected challenge after AUTH PLAIN")
	}
	switch prompt := strings.ToLower(strings.TrimSpace(string(fromServer))); {
	case strings.HasPrefix(prompt, "username"):
		return []byte(a.username), nil
	case strings.HasPrefix(prompt, "password"):
		return []byte(a.password), nil
	default:
		return nil, fmt.Errorf("unexpected LOGIN challenge %q", oneLine(prompt))
	}
}

// compose writes the message: headers, a blank line, then the body as
// quoted-printable text. No field of m reaches a header with a line break
// in it.
func (e *Email) compose(from, to *mail.Address, m Message) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	name := to.Name
	if name == "" {
		name = m.UserName
	}
	subject := oneLine(m.Title)
	if m.Importance != "" {
		subject = "[" + oneLine(m.Importance) + "] " + subject
	}

	header("From", (&mail.Address{Name: oneLine(from.Name), Address: from.Address}).String())
	header("To", (&mail.Address{Name: oneLine(name), Address: to.Address}).String())
	header("Subject", encodeHeader(subject))
	header("Date", e.now().Format(time.RFC1123Z))
	header("Message-ID", "<"+messageIDLocal(m.DeliveryID)+"@checkstack>")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no out-of-office replies
	b.WriteString("\r\n")

	text := m.Body
	if m.ActionURL != "" {
		label := m.ActionLabel
		if label == "" {
			label = "Open"
		}
		text += "\n\n" + label + ": " + m.ActionURL
	}
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// encodeHeader returns s, which has no line breaks, as a header value:
// printable ASCII as is, anything else as RFC 2047 Q-encoded words. Either
// way it is folded so that lines stay short.
func encodeHeader(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			// Encoded words hold no spaces, so the spaces between them
			// are where the line may fold.
			return strings.ReplaceAll(mime.QEncoding.Encode("utf-8", s), " ", "\r\n ")
		}
	}
	return fold(s)
}

// fold breaks s before spaces so that its lines stay near foldWidth bytes;
// a reader that unfolds it (removing each CRLF) gets s back. A single word
// longer than that stays on one line.
func fold(s string) string {
	if len(s) <= foldWidth {
		return s
	}
	var b strings.Builder
	line := 0
	for i, word := range strings.Split(s, " ") {
		if i > 0 {
			if line > 0 && line+1+len(word) > foldWidth {
				b.WriteString("\r\n")
				line = 0
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}

// messageIDLocal turns a delivery ID into the left part of a Message-ID:
// letters, digits, '-' and '_' stay, every other byte is written as =XX,
// so that different IDs stay different.
func messageIDLocal(id string) string {
	var b strings.Builder
	for _, c := range []byte(id) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}
