package probe

import "crypto/x509"

// HTTPTrusting returns an http strategy that trusts only roots, so a test
// can verify a server whose certificate it made.
func HTTPTrusting(roots *x509.CertPool) HTTP { return HTTP{roots: roots} }

// TLSTrusting returns a tls strategy that trusts only roots, so a test can
// check a chain up to a CA it made.
func TLSTrusting(roots *x509.CertPool) TLS { return TLS{roots: roots} }
