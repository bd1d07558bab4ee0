package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

// TLS checks a server's certificate: that it is trusted, matches the name
// and is far enough from expiring. Its configuration is a TLSConfig. The
// zero value trusts the system's root certificates.
type TLS struct {
	// roots, when non-nil, replaces the system roots for verifyChain. Only
	// tests set it (see export_test.go), to trust a CA they made.
	roots *x509.CertPool
}

var _ Strategy = TLS{}

// TLSConfig is the configuration of the tls strategy, as JSON. Validate
// fills in the defaults shown.
type TLSConfig struct {
	// Host is the host name or IP address to connect to, without a port.
	// Required.
	Host string `json:"host"`
	// Port is the TCP port, 1–65535; default 443.
	Port int `json:"port"`
	// ServerName is sent as SNI (unless it is an IP address) and must be
	// among the certificate's names; default Host.
	ServerName string `json:"serverName"`
	// WarnDays: a certificate with this many whole days left or fewer is
	// degraded; default 14.
	WarnDays int `json:"warnDays"`
	// FailDays: a certificate with this many whole days left or fewer is
	// unhealthy; at most WarnDays; default 7, or WarnDays when that is
	// lower.
	FailDays int `json:"failDays"`
	// VerifyChain checks that the certificate chains to a trusted root when
	// true (the default). Expiry and the name are checked either way.
	VerifyChain bool `json:"verifyChain"`
}

// Name returns "tls".
func (TLS) Name() string { return "tls" }

// Validate checks a TLSConfig and returns it with defaults filled in.
func (TLS) Validate(config json.RawMessage) (json.RawMessage, error) {
	cfg, err := parseTLSConfig(config)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cfg)
}

func parseTLSConfig(config json.RawMessage) (TLSConfig, error) {
	cfg := TLSConfig{Port: 443, WarnDays: 14, FailDays: 7, VerifyChain: true}
	set, err := decodeConfig(config, fields{
		"host":        &cfg.Host,
		"port":        &cfg.Port,
		"serverName":  &cfg.ServerName,
		"warnDays":    &cfg.WarnDays,
		"failDays":    &cfg.FailDays,
		"verifyChain": &cfg.VerifyChain,
	})
	if err != nil {
		return TLSConfig{}, err
	}
	if err := checkHost("config.host", cfg.Host); err != nil {
		return TLSConfig{}, err
	}
	if err := checkPort("config.port", cfg.Port); err != nil {
		return TLSConfig{}, err
	}
	if cfg.ServerName == "" {
		cfg.ServerName = cfg.Host
	} else if err := checkHost("config.serverName", cfg.ServerName); err != nil {
		return TLSConfig{}, err
	}
	if cfg.WarnDays < 0 {
		return TLSConfig{}, rpc.Invalid("config.warnDays", "must be 0 or more")
	}
	if !set["failDays"] {
		cfg.FailDays = min(cfg.FailDays, cfg.WarnDays)
	}
	if cfg.FailDays < 0 {
		return TLSConfig{}, rpc.Invalid("config.failDays", "must be 0 or more")
	}
	if cfg.FailDays > cfg.WarnDays {
		return TLSConfig{}, rpc.Invalid("config.failDays", fmt.Sprintf("must be at most config.warnDays (%d)", cfg.WarnDays))
	}
	return cfg, nil
}

// Run connects, completes a TLS handshake and judges the server's leaf
// certificate. Details: daysLeft (whole days, negative once expired),
// notAfter (RFC 3339), subject, issuer and dnsNames.
func (s TLS) Run(ctx context.Context, config json.RawMessage) (res Result) {
	defer recoverPanic(&res, "tls")
	cfg, err := parseTLSConfig(config)
	if err != nil {
		return invalidConfig(err)
	}
	ctx, cancel, budget := begin(ctx)
	defer cancel()

	start := time.Now()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	op := "tls " + addr
	if cfg.ServerName != cfg.Host {
		op += " (" + cfg.ServerName + ")"
	}
	fail := func(details map[string]any, format string, args ...any) Result {
		msg := op + ": " + fmt.Sprintf(format, args...)
		return Result{Status: Unhealthy, Latency: time.Since(start), Message: msg, Details: details}
	}

	// Verification happens below, after the handshake, so that an
	// untrusted or expired certificate is still read and reported on.
	dialer := &tls.Dialer{Config: &tls.Config{
		ServerName:         cfg.ServerName,
		InsecureSkipVerify: true,
	}}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		if why := stopped(ctx, err, budget); why != "" {
			return fail(nil, "%s", why)
		}
		return fail(nil, "%s", describeConnError(err))
	}
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	// The handshake is done; closing has nothing left to report.
	_ = conn.Close()
	elapsed := time.Since(start)
	if len(certs) == 0 {
		return fail(nil, "the server sent no certificate")
	}

	leaf, now := certs[0], time.Now()
	days := daysLeft(leaf.NotAfter, now)
	dnsNames := leaf.DNSNames
	if dnsNames == nil {
		dnsNames = []string{}
	}
	details := map[string]any{
		"daysLeft": days,
		"notAfter": leaf.NotAfter.UTC().Format(time.RFC3339),
		"subject":  leaf.Subject.String(),
		"issuer":   leaf.Issuer.String(),
		"dnsNames": dnsNames,
	}
	notAfter := leaf.NotAfter.UTC().Format(time.RFC3339)

	var problems []string
	switch {
	case now.After(leaf.NotAfter):
		problems = append(problems, "certificate expired at "+notAfter)
	case now.Before(leaf.NotBefore):
		problems = append(problems, "certificate is not valid until "+leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if err := leaf.VerifyHostname(cfg.ServerName); err != nil {
		problems = append(problems, fmt.Sprintf("certificate is not valid for %s (it names %s)", cfg.ServerName, certNames(leaf)))
	}
	if cfg.VerifyChain {
		intermediates := x509.NewCertPool()
		for _, c := range certs[1:] {
			intermediates.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: s.roots, Intermediates: intermediates, CurrentTime: now})
		if err != nil && !leafTimeError(err, leaf) {
			problems = append(problems, "certificate chain not trusted: "+err.Error())
		}
	}
	res = Result{Latency: elapsed, Details: details}
	switch {
	case len(problems) > 0:
		return fail(details, "%s", strings.Join(problems, "; "))
	case days <= cfg.FailDays:
		res.Status = Unhealthy
		res.Message = fmt.Sprintf("%s: certificate expires in %s (%s); unhealthy at %d days or fewer", op, plural(days, "day"), notAfter, cfg.FailDays)
	case days <= cfg.WarnDays:
		res.Status = Degraded
		res.Message = fmt.Sprintf("%s: certificate expires in %s (%s); degraded at %d days or fewer", op, plural(days, "day"), notAfter, cfg.WarnDays)
	default:
		res.Status = Healthy
		res.Message = fmt.Sprintf("%s: certificate valid for %s (until %s)", op, plural(days, "more day"), notAfter)
	}
	return res
}

// leafTimeError reports whether err, from verifying leaf's chain, is only
// about leaf's validity period, which Run reports on its own.
func leafTimeError(err error, leaf *x509.Certificate) bool {
	e, ok := errors.AsType[x509.CertificateInvalidError](err)
	return ok && e.Reason == x509.Expired && e.Cert == leaf
}

// certNames lists the names a certificate is valid for, for a message.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName != "" {
			return "only the common name " + c.Subject.CommonName + ", which is not checked"
		}
		return "no names"
	}
	return strings.Join(names, ", ")
}

// plural says "1 day", "0 days", "9 days".
func plural(n int, unit string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
