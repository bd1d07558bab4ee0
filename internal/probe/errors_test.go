package probe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

// Failures that no loopback server can produce (DNS, unreachable
// networks) are checked here on the errors themselves.
func TestDescribeConnErrorSaysWhatFailed(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://x.test/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a name that does not resolve is a DNS failure", dial(&net.DNSError{Err: "no such host", Name: "x.test", IsNotFound: true}), "DNS lookup of x.test failed: no such host"},
		{"a refused connection says refused", dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "connection refused"},
		{"a reset connection says reset", dial(os.NewSyscallError("read", syscall.ECONNRESET)), "connection reset by the server"},
		{"an unreachable host says unreachable", dial(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "host unreachable"},
		{"an unreachable network says unreachable", dial(os.NewSyscallError("connect", syscall.ENETUNREACH)), "network unreachable"},
		{"an unknown authority is an untrusted certificate", dial(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), "TLS certificate not trusted: x509: certificate signed by unknown authority"},
		{"an expired certificate is invalid", dial(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired, Detail: "expired"}}), "TLS certificate invalid: x509: certificate has expired or is not yet valid: expired"},
		{"a server that is not TLS fails the handshake", dial(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "TLS handshake failed: the server did not answer with TLS"},
		{"a TLS alert fails the handshake", dial(fmt.Errorf("remote error: %w", tls.AlertError(40))), "TLS handshake failed: tls: handshake failure"},
		{"anything else drops the URL, which the caller names", &url.Error{Op: "Get", URL: "https://x.test/", Err: errors.New("stopped after 10 redirects")}, "stopped after 10 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeConnError(tt.err); got != tt.want {
				t.Errorf("describeConnError(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
