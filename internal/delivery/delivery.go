package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Message is one notification for one user, as sent.
type Message struct {
	DeliveryID     string    `json:"deliveryId"`
	NotificationID string    `json:"notificationId"`
	UserID         string    `json:"userId"`
	UserEmail      string    `json:"userEmail,omitempty"`
	UserName       string    `json:"userName,omitempty"`
	Title          string    `json:"title"`
	Body           string    `json:"body"`       // Markdown
	Importance     string    `json:"importance"` // info, warning or critical
	ActionLabel    string    `json:"actionLabel,omitempty"`
	ActionURL      string    `json:"actionUrl,omitempty"`
	GroupID        string    `json:"groupId,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
}

// check reports what makes m impossible to send on any channel: the
// delivery ID names the attempt in a header, so it must be there and fit
// on one line.
func (m Message) check() error {
	if m.DeliveryID == "" {
		return errors.New("message: deliveryId is empty")
	}
	if strings.ContainsFunc(m.DeliveryID, unicode.IsControl) {
		return fmt.Errorf("message: deliveryId %q contains control characters", m.DeliveryID)
	}
	return nil
}

// Error is a failed attempt. Permanent means retrying cannot help (a 4xx
// answer, a rejected recipient, a bad config); otherwise the caller retries
// with backoff, waiting at least RetryAfter when it is set.
type Error struct {
	Permanent  bool
	RetryAfter time.Duration
	Err        error
}

// Error returns Err's message, followed by the wait the receiver asked for
// when there is one.
func (e *Error) Error() string {
	msg := "delivery failed"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %v)", e.RetryAfter)
	}
	return msg
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err (or one it wraps) is a permanent *Error.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// RetryAfter returns the *Error's RetryAfter, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// permanent marks err as one retrying cannot help.
func permanent(err error) *Error { return &Error{Permanent: true, Err: err} }

// retryable marks err as one a later attempt may not meet.
func retryable(err error) *Error { return &Error{Err: err} }

// oneLine makes s safe for a header or a log line: every control
// character, CR and LF included, becomes a space.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// tlsConfigError reports whether err is the server's TLS certificate failing
// verification, or a server that does not speak TLS at all: a configuration
// problem the next attempt would meet again, not a passing network fault.
func tlsConfigError(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) ||
		errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &record)
}
