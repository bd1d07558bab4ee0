package delivery_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/delivery"
	"github.com/checkstack/checkstack/internal/rpc"
)

// wantInvalid fails the test unless err is a 400 *rpc.Error naming field,
// or nil when field is "".
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("Validate: %v, want no error", err)
		}
		return
	}
	var rerr *rpc.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("Validate: %v (%T), want an *rpc.Error naming %s", err, err, field)
	}
	if rerr.Status != http.StatusBadRequest || !strings.HasPrefix(rerr.Message, field+": ") {
		t.Errorf("Validate: %d %q, want a 400 naming %s", rerr.Status, rerr.Message, field)
	}
}

func TestWebhookConfigValidate(t *testing.T) {
	const secret = "0123456789abcdef"
	tests := []struct {
		name  string
		cfg   delivery.WebhookConfig
		field string // "" when valid
	}{
		{name: "an https URL and a 16-byte secret are valid", cfg: delivery.WebhookConfig{URL: "https://hooks.example.com/x?token=1", Secret: secret}},
		{name: "an http URL with a port is valid", cfg: delivery.WebhookConfig{URL: "http://10.0.0.5:8080/hook", Secret: secret}},
		{name: "a missing URL names config.url", cfg: delivery.WebhookConfig{Secret: secret}, field: "config.url"},
		{name: "a relative URL names config.url", cfg: delivery.WebhookConfig{URL: "/hook", Secret: secret}, field: "config.url"},
		{name: "a URL without a host names config.url", cfg: delivery.WebhookConfig{URL: "https:///hook", Secret: secret}, field: "config.url"},
		{name: "an ftp URL names config.url", cfg: delivery.WebhookConfig{URL: "ftp://example.com/hook", Secret: secret}, field: "config.url"},
		{name: "a URL that does not parse names config.url", cfg: delivery.WebhookConfig{URL: "https://exa mple.com/%zz", Secret: secret}, field: "config.url"},
		{name: "a missing secret names config.secret", cfg: delivery.WebhookConfig{URL: "https://example.com"}, field: "config.secret"},
		{name: "a 15-byte secret names config.secret", cfg: delivery.WebhookConfig{URL: "https://example.com", Secret: secret[:15]}, field: "config.secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantInvalid(t, tt.cfg.Validate(), tt.field)
		})
	}
}

func TestEmailConfigValidate(t *testing.T) {
	valid := delivery.EmailConfig{Host: "smtp.example.com", From: "status@example.com"}
	with := func(edit func(*delivery.EmailConfig)) delivery.EmailConfig {
		c := valid
		edit(&c)
		return c
	}
	tests := []struct {
		name  string
		cfg   delivery.EmailConfig
		field string // "" when valid
	}{
		{name: "a host and a from address are enough", cfg: valid},
		{name: "a named from address is valid", cfg: with(func(c *delivery.EmailConfig) { c.From = "Checkstack <status@example.com>" })},
		{name: "a non-ASCII name in from is valid", cfg: with(func(c *delivery.EmailConfig) { c.From = "Statusdienst Ü <status@example.com>" })},
		{name: "implicit tls on port 465 with credentials is valid", cfg: with(func(c *delivery.EmailConfig) {
			c.Security, c.Port, c.Username, c.Password = "tls", 465, "status", "secret"
		})},
		{name: "an IPv6 host is valid", cfg: with(func(c *delivery.EmailConfig) { c.Host = "2001:db8::25" })},
		{name: "none with credentials is valid to localhost", cfg: with(func(c *delivery.EmailConfig) {
			c.Host, c.Security, c.Username, c.Password = "localhost", "none", "status", "secret"
		})},
		{name: "none with credentials is valid to a loopback address", cfg: with(func(c *delivery.EmailConfig) {
			c.Host, c.Security, c.Username, c.Password = "::1", "none", "status", "secret"
		})},
		{name: "none without credentials is valid anywhere", cfg: with(func(c *delivery.EmailConfig) { c.Security = "none" })},
		{name: "a missing host names config.host", cfg: with(func(c *delivery.EmailConfig) { c.Host = "" }), field: "config.host"},
		{name: "a host with a port names config.host", cfg: with(func(c *delivery.EmailConfig) { c.Host = "smtp.example.com:587" }), field: "config.host"},
		{name: "a host with a space names config.host", cfg: with(func(c *delivery.EmailConfig) { c.Host = "smtp example.com" }), field: "config.host"},
		{name: "a host with a line break names config.host", cfg: with(func(c *delivery.EmailConfig) { c.Host = "smtp.example.com\r\n" }), field: "config.host"},
		{name: "a negative port names config.port", cfg: with(func(c *delivery.EmailConfig) { c.Port = -1 }), field: "config.port"},
		{name: "port 65536 names config.port", cfg: with(func(c *delivery.EmailConfig) { c.Port = 65536 }), field: "config.port"},
		{name: "a missing from names config.from", cfg: with(func(c *delivery.EmailConfig) { c.From = "" }), field: "config.from"},
		{name: "a from that is not an address names config.from", cfg: with(func(c *delivery.EmailConfig) { c.From = "Checkstack" }), field: "config.from"},
		{name: "two from addresses name config.from", cfg: with(func(c *delivery.EmailConfig) { c.From = "a@example.com, b@example.com" }), field: "config.from"},
		{name: "a from with a header after it names config.from", cfg: with(func(c *delivery.EmailConfig) { c.From = "a@example.com\r\nBcc: b@example.com" }), field: "config.from"},
		{name: "an unknown security names config.security", cfg: with(func(c *delivery.EmailConfig) { c.Security = "ssl" }), field: "config.security"},
		{name: "security is case-sensitive", cfg: with(func(c *delivery.EmailConfig) { c.Security = "STARTTLS" }), field: "config.security"},
		{name: "a username without a password names config.password", cfg: with(func(c *delivery.EmailConfig) { c.Username = "status" }), field: "config.password"},
		{name: "none with credentials to a remote host names config.security", cfg: with(func(c *delivery.EmailConfig) {
			c.Security, c.Username, c.Password = "none", "status", "secret"
		}), field: "config.security"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantInvalid(t, tt.cfg.Validate(), tt.field)
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	retryable := &delivery.Error{RetryAfter: 7 * time.Second, Err: errors.New("status 503")}
	permanent := &delivery.Error{Permanent: true, Err: errors.New("status 404")}
	tests := []struct {
		name       string
		err        error
		permanent  bool
		retryAfter time.Duration
	}{
		{name: "nil is neither", err: nil},
		{name: "a plain error is not permanent", err: errors.New("boom")},
		{name: "a retryable error carries its wait", err: retryable, retryAfter: 7 * time.Second},
		{name: "a wrapped retryable error carries its wait", err: errors.Join(errors.New("attempt 3"), retryable), retryAfter: 7 * time.Second},
		{name: "a permanent error is permanent", err: permanent, permanent: true},
		{name: "a wrapped permanent error is permanent", err: errors.Join(errors.New("attempt 3"), permanent), permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := delivery.IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			if got := delivery.RetryAfter(tt.err); got != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.retryAfter)
			}
		})
	}
	if !errors.Is(retryable, retryable.Err) {
		t.Error("errors.Is does not see through *Error")
	}
	if got, want := retryable.Error(), "status 503 (retry after 7s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
