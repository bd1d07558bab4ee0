package probe_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/probe"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key := newKey(t)
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Probe Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert, key}
}

// pool returns a pool holding only the CA.
func (ca testCA) pool() *x509.CertPool { return certPool(ca.cert) }

// leaf issues a server certificate for names, valid from notBefore until
// notAfter. Names that parse as IP addresses go in the IP addresses.
func (ca testCA) leaf(t *testing.T, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	template := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"Probe Test"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func certPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// serveTLS serves cert on a loopback port until the test ends: each
// connection completes a handshake, then waits for the client to close.
func serveTLS(t *testing.T, cert tls.Certificate) *net.TCPAddr {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, ln, func(conn net.Conn, _ <-chan struct{}) {
		// A client that rejects the certificate aborts the handshake;
		// what the client concludes is what the tests check.
		if err := conn.(*tls.Conn).Handshake(); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, conn) // returns when the client closes
	})
}

// days is a validity that leaves n whole days, with an hour to spare so
// the count does not tick over during the test.
func days(n int) time.Time { return time.Now().Add(time.Duration(n)*24*time.Hour + time.Hour) }

func TestTLSJudgesTheCertificate(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	yesterday := now.Add(-24 * time.Hour)
	const name = "probe.test"
	servers := map[string]*net.TCPAddr{
		"90 days": serveTLS(t, ca.leaf(t, yesterday, days(90), name, "127.0.0.1")),
		"10 days": serveTLS(t, ca.leaf(t, yesterday, days(10), name)),
		"5 days":  serveTLS(t, ca.leaf(t, yesterday, days(5), name)),
		"expired": serveTLS(t, ca.leaf(t, now.Add(-30*24*time.Hour), days(-2), name)),
		"other":   serveTLS(t, ca.leaf(t, yesterday, days(90), "other.test")),
	}
	trusted := probe.TLSTrusting(ca.pool())
	system := probe.TLS{}

	tests := []struct {
		name       string
		strategy   probe.TLS
		server     string
		serverName string // "" leaves the default, the host 127.0.0.1
		verify     bool
		status     probe.Status
		parts      []string
		daysLeft   int
	}{
		{
			name: "a trusted certificate with 90 days left is healthy", strategy: trusted,
			server: "90 days", serverName: name, verify: true,
			status: probe.Healthy, parts: []string{"certificate valid for 90 more days"}, daysLeft: 90,
		},
		{
			name: "the host is the default server name and may be an IP address", strategy: trusted,
			server: "90 days", verify: true,
			status: probe.Healthy, daysLeft: 90,
		},
		{
			name: "a trusted certificate with 10 days left is degraded", strategy: trusted,
			server: "10 days", serverName: name, verify: true,
			status: probe.Degraded, parts: []string{"expires in 10 days", "degraded at 14 days or fewer"}, daysLeft: 10,
		},
		{
			name: "a trusted certificate with 5 days left is unhealthy", strategy: trusted,
			server: "5 days", serverName: name, verify: true,
			status: probe.Unhealthy, parts: []string{"expires in 5 days", "unhealthy at 7 days or fewer"}, daysLeft: 5,
		},
		{
			name: "an expired certificate is unhealthy", strategy: trusted,
			server: "expired", serverName: name, verify: true,
			status: probe.Unhealthy, parts: []string{"certificate expired at "}, daysLeft: -2,
		},
		{
			name: "a certificate for another name is unhealthy", strategy: trusted,
			server: "other", serverName: name, verify: true,
			status: probe.Unhealthy, parts: []string{"certificate is not valid for probe.test (it names other.test)"}, daysLeft: 90,
		},
		{
			name: "a chain to an untrusted CA is unhealthy when verifyChain is on", strategy: system,
			server: "90 days", serverName: name, verify: true,
			status: probe.Unhealthy, parts: []string{"certificate chain not trusted", "unknown authority"}, daysLeft: 90,
		},
		{
			name: "a chain to an untrusted CA is healthy when verifyChain is off", strategy: system,
			server: "90 days", serverName: name, verify: false,
			status: probe.Healthy, daysLeft: 90,
		},
		{
			name: "an untrusted certificate with 10 days left is degraded when verifyChain is off", strategy: system,
			server: "10 days", serverName: name, verify: false,
			status: probe.Degraded, parts: []string{"expires in 10 days"}, daysLeft: 10,
		},
		{
			name: "an untrusted certificate with 5 days left is unhealthy when verifyChain is off", strategy: system,
			server: "5 days", serverName: name, verify: false,
			status: probe.Unhealthy, parts: []string{"expires in 5 days"}, daysLeft: 5,
		},
		{
			name: "an expired certificate is unhealthy when verifyChain is off", strategy: system,
			server: "expired", serverName: name, verify: false,
			status: probe.Unhealthy, parts: []string{"certificate expired at "}, daysLeft: -2,
		},
		{
			name: "a certificate for another name is unhealthy when verifyChain is off", strategy: system,
			server: "other", serverName: name, verify: false,
			status: probe.Unhealthy, parts: []string{"not valid for probe.test"}, daysLeft: 90,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := servers[tt.server]
			config := map[string]any{"host": "127.0.0.1", "port": addr.Port, "verifyChain": tt.verify}
			if tt.serverName != "" {
				config["serverName"] = tt.serverName
			}
			res := check(t, tt.strategy, config, 10*time.Second)
			wantResult(t, res, tt.status, tt.parts...)
			if got := res.Details["daysLeft"]; got != tt.daysLeft {
				t.Errorf("daysLeft = %v, want %d", got, tt.daysLeft)
			}
		})
	}
}

func TestTLSRecordsTheCertificate(t *testing.T) {
	ca := newTestCA(t)
	cert := ca.leaf(t, time.Now().Add(-time.Hour), days(30), "probe.test", "www.probe.test")
	addr := serveTLS(t, cert)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}

	res := check(t, probe.TLSTrusting(ca.pool()), map[string]any{"host": "127.0.0.1", "port": addr.Port, "serverName": "www.probe.test"}, 10*time.Second)
	wantResult(t, res, probe.Healthy)
	want := map[string]any{
		"daysLeft": 30,
		"notAfter": leaf.NotAfter.UTC().Format(time.RFC3339),
		"subject":  "CN=probe.test,O=Probe Test",
		"issuer":   "CN=Probe Test CA",
	}
	for k, v := range want {
		if res.Details[k] != v {
			t.Errorf("details[%q] = %v, want %v", k, res.Details[k], v)
		}
	}
	if got, ok := res.Details["dnsNames"].([]string); !ok || len(got) != 2 || got[0] != "probe.test" || got[1] != "www.probe.test" {
		t.Errorf("dnsNames = %v, want [probe.test www.probe.test]", res.Details["dnsNames"])
	}
}

func TestTLSThresholdsAreConfigurable(t *testing.T) {
	ca := newTestCA(t)
	addr := serveTLS(t, ca.leaf(t, time.Now().Add(-time.Hour), days(20), "probe.test"))
	tests := []struct {
		name          string
		warn, fail    int
		status        probe.Status
		wantInMessage string
	}{
		{"20 days left is healthy with the default thresholds", 14, 7, probe.Healthy, "valid for 20 more days"},
		{"20 days left is degraded when warnDays is 30", 30, 7, probe.Degraded, "degraded at 30 days"},
		{"20 days left is unhealthy when failDays is 20", 30, 20, probe.Unhealthy, "unhealthy at 20 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, probe.TLSTrusting(ca.pool()), map[string]any{
				"host": "127.0.0.1", "port": addr.Port, "serverName": "probe.test",
				"warnDays": tt.warn, "failDays": tt.fail,
			}, 10*time.Second)
			wantResult(t, res, tt.status, tt.wantInMessage)
		})
	}
}

func TestTLSReportsConnectionFailures(t *testing.T) {
	t.Run("a refused connection is unhealthy", func(t *testing.T) {
		addr := refusedAddr(t)
		res := check(t, probe.TLS{}, map[string]any{"host": "127.0.0.1", "port": addr.Port}, 10*time.Second)
		wantResult(t, res, probe.Unhealthy, "connection refused")
	})
	t.Run("a server that never completes the handshake is cut off at the deadline", func(t *testing.T) {
		addr := serve(t, listenTCP(t), func(_ net.Conn, done <-chan struct{}) { <-done })
		res := check(t, probe.TLS{}, map[string]any{"host": "127.0.0.1", "port": addr.Port}, hangTimeout)
		wantTimedOut(t, res)
	})
	t.Run("a server that does not speak TLS is unhealthy", func(t *testing.T) {
		addr := serve(t, listenTCP(t), func(conn net.Conn, _ <-chan struct{}) {
			_, _ = io.WriteString(conn, "220 smtp.probe.test ESMTP ready\r\n") // the client's result is what counts
			_, _ = io.Copy(io.Discard, conn)                                   // until the client closes
		})
		res := check(t, probe.TLS{}, map[string]any{"host": "127.0.0.1", "port": addr.Port}, 10*time.Second)
		wantResult(t, res, probe.Unhealthy, "TLS handshake failed")
	})
}
