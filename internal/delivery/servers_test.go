package delivery_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// waitFor bounds how long a test waits for something a server should
// already have done.
const waitFor = 5 * time.Second

// smtpOptions says how a test SMTP server behaves.
type smtpOptions struct {
	// username and password, when set, are the only credentials accepted,
	// and MAIL is refused until the client has authenticated.
	username, password string
	// mechanisms are the AUTH mechanisms offered when username is set;
	// nil offers PLAIN.
	mechanisms []string
	// rcptErr, when set, is the reply to every RCPT.
	rcptErr *smtp.SMTPError
	// dataErr, when set, is the reply at the end of DATA.
	dataErr *smtp.SMTPError
	// startTLS, when set, is offered through STARTTLS.
	startTLS *tls.Config
	// implicitTLS, when set, wraps the listener: TLS from the first byte.
	implicitTLS *tls.Config
}

// received is one message a test SMTP server accepted.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool // the message came over TLS
}

// smtpServer is a real SMTP server (go-smtp) on 127.0.0.1.
type smtpServer struct {
	port     int
	received chan received
}

// startSMTP starts an SMTP server that behaves as opts says, until the test
// ends.
func startSMTP(t *testing.T, opts smtpOptions) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &smtpServer{port: ln.Addr().(*net.TCPAddr).Port, received: make(chan received, 8)}
	if opts.implicitTLS != nil {
		ln = tls.NewListener(ln, opts.implicitTLS)
	}
	if opts.username != "" && opts.mechanisms == nil {
		opts.mechanisms = []string{sasl.Plain}
	}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{opts: opts, conn: c, out: srv.received}, nil
	}))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true // the plain-text tests authenticate over loopback
	s.ReadTimeout = waitFor
	s.WriteTimeout = waitFor
	s.TLSConfig = opts.startTLS
	s.ErrorLog = log.New(io.Discard, "", 0) // failures show up in what the client gets
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()  // ErrServerClosed at worst
		_ = ln.Close() // in case Serve had not registered it yet
		if err := <-done; err != nil {
			t.Errorf("SMTP server: %v", err)
		}
	})
	return srv
}

// next returns the message the server accepted last, failing the test if
// there is none.
func (s *smtpServer) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.received:
		return r
	case <-time.After(waitFor):
		t.Fatal("the server received no message")
		return received{}
	}
}

// none fails the test if the server accepted a message. Send returns only
// after the server has answered DATA, so there is nothing to wait for.
func (s *smtpServer) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-s.received:
		t.Errorf("the server received a message from %s to %v", r.from, r.to)
	default:
	}
}

// session is one SMTP connection to a test server.
type session struct {
	opts   smtpOptions
	conn   *smtp.Conn
	out    chan<- received
	authed bool
	msg    received
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.opts.username == "" {
		return nil
	}
	return s.opts.mechanisms
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if username != s.opts.username || password != s.opts.password {
			return smtp.ErrAuthFailed // 535, as real servers answer
		}
		s.authed = true
		return nil
	}
	switch {
	case !slices.Contains(s.AuthMechanisms(), mech):
		return nil, smtp.ErrAuthUnknownMechanism
	case mech == sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error {
			return check(username, password)
		}), nil
	case mech == sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.opts.username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.msg = received{from: from, tls: isTLS}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.opts.rcptErr != nil {
		return s.opts.rcptErr
	}
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.opts.dataErr != nil {
		return s.opts.dataErr
	}
	s.msg.data = data
	select {
	case s.out <- s.msg:
	default: // more messages than any test sends; next reports the loss
	}
	return nil
}

func (s *session) Reset() { s.msg = received{} }

func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl offers only
// as a client.
type loginServer struct {
	check    func(username, password string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if response != nil { // the username as an initial response
			l.username = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.username = string(response)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.username, string(response))
	}
}

// hangingServer accepts TCP connections on 127.0.0.1 and stops answering.
// With greet false it never writes a byte, and announces each connection
// on the channel as it accepts it. With greet true it sends the SMTP
// greeting, reads the client's first command, announces the connection
// then, when the client is surely past dialing and waiting for a reply,
// and never replies.
func hangingServer(t *testing.T, greet bool) (port int, announced <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	announce := make(chan struct{}, 8)
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	handle := func(c net.Conn) {
		defer wg.Done()
		if greet {
			if _, err := io.WriteString(c, "220 localhost ESMTP\r\n"); err != nil {
				return // the client has gone; nothing to announce
			}
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				return // as above
			}
		}
		select {
		case announce <- struct{}{}:
		default:
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener was closed at cleanup
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go handle(c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close() // ends the accept loop
		mu.Lock()
		for _, c := range conns {
			_ = c.Close() // ends a handler still reading; the client has gone
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port, announce
}

// refusedPort returns a port on 127.0.0.1 where nothing listens: one that
// was just free.
func refusedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// selfSigned returns a server TLS config with a fresh self-signed
// certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool
}
