package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/checkstack/checkstack/internal/rpc"
)

const (
	webhookTimeout   = 10 * time.Second // of the default client, per attempt
	minSecretBytes   = 16
	maxRetryAfter    = time.Hour
	maxErrorBody     = 512      // bytes of a failed answer's body quoted in the error
	maxDrainBody     = 64 << 10 // bytes read from a body before closing it, so the connection can be reused
	signatureVersion = "v1"
)

// Signature errors, wrapped with the details by Verify.
var (
	errSignatureMalformed = errors.New("malformed signature header")
	errSignatureMismatch  = errors.New("signature does not match")
	errSignatureStale     = errors.New("signature timestamp outside tolerance")
)

// defaultClient is the Client of a Webhook that sets none. It does not
// follow redirects: a 3xx is the answer judged, and a permanent failure.
var defaultClient = &http.Client{
	Transport: http.DefaultTransport.(*http.Transport).Clone(),
	Timeout:   webhookTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// WebhookConfig is the admin's webhook channel configuration.
type WebhookConfig struct {
	URL    string `json:"url"`    // http or https, absolute, with a host
	Secret string `json:"secret"` // HMAC-SHA256 key, at least 16 bytes
}

// Validate checks the config; errors are rpc.Invalid naming "config.url" or
// "config.secret".
func (c WebhookConfig) Validate() error {
	if c.URL == "" {
		return rpc.Invalid("config.url", "required")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return rpc.Invalid("config.url", "must be an absolute http or https URL")
	}
	if c.Secret == "" {
		return rpc.Invalid("config.secret", "required")
	}
	if len(c.Secret) < minSecretBytes {
		return rpc.Invalid("config.secret", fmt.Sprintf("must be at least %d bytes", minSecretBytes))
	}
	return nil
}

// Webhook sends messages as signed JSON POSTs. The zero value works.
type Webhook struct {
	// Client sends the requests. nil uses a client with a 10 s timeout
	// that does not follow redirects. A Client given here should have a
	// timeout too: Send is bounded only by it and ctx.
	Client *http.Client
	// Now is the clock the signature's timestamp is read from. nil uses
	// time.Now.
	Now func() time.Time
}

func (w *Webhook) client() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	return defaultClient
}

func (w *Webhook) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Send POSTs m as JSON to cfg.URL with headers:
//
//	Content-Type: application/json
//	User-Agent: checkstack-webhook/1
//	X-Checkstack-Event: notification
//	X-Checkstack-Delivery: <m.DeliveryID>
//	X-Checkstack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>." + body)>
//
// A 2xx answer is success. 408, 429 and 5xx are retryable (429 and 503
// honour a Retry-After header, in seconds or as an HTTP date, capped at 1
// hour); other 4xx and 3xx are permanent. Network errors and timeouts are
// retryable; a TLS certificate that does not verify is permanent. When ctx
// ends, Send returns ctx.Err() as is, not an *Error. Every other failure
// is an *Error whose message names the scheme and host (never the path or
// query, which often hold a token), the status, and at most 512 bytes of
// the response body with control characters removed.
func (w *Webhook) Send(ctx context.Context, cfg WebhookConfig, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return permanent(err)
	}
	if err := m.check(); err != nil {
		return permanent(fmt.Errorf("webhook: %w", err))
	}
	body, err := json.Marshal(m)
	if err != nil {
		return permanent(fmt.Errorf("webhook: encode message: %w", err))
	}
	u, err := url.Parse(cfg.URL) // Validate parsed it already
	if err != nil {
		return permanent(fmt.Errorf("webhook: %w", err))
	}
	target := u.Scheme + "://" + u.Host

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("webhook: POST %s: %w", target, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "checkstack-webhook/1")
	req.Header.Set("X-Checkstack-Event", "notification")
	req.Header.Set("X-Checkstack-Delivery", m.DeliveryID)
	req.Header.Set("X-Checkstack-Signature", signatureHeader(cfg.Secret, w.now(), body))

	resp, err := w.client().Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// The *url.Error names the whole URL; keep only what it says went wrong.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		err = fmt.Errorf("webhook: POST %s: %w", target, err)
		if tlsConfigError(err) {
			return permanent(err)
		}
		return retryable(err)
	}
	defer drainAndClose(resp.Body)

	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	// A body that cannot be read leaves the status to report on its own.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := fmt.Sprintf("webhook: POST %s: status %d", target, code)
	if text := http.StatusText(code); text != "" {
		msg += " " + text
	}
	if s := cleanSnippet(snippet); s != "" {
		msg += ": " + s
	}
	failure := &Error{Err: errors.New(msg)}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		failure.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.now())
	case code == http.StatusRequestTimeout || code >= 500:
	default: // 1xx (never final in practice), 3xx and the other 4xx
		failure.Permanent = true
	}
	return failure
}

// drainAndClose reads what is left of a response body, up to a limit, so
// that the connection can carry the next request, then closes it.
func drainAndClose(body io.ReadCloser) {
	// Neither error matters: the answer has been judged already.
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrainBody))
	_ = body.Close()
}

// cleanSnippet turns the start of a response body into text fit for an
// error message: valid UTF-8, line breaks and tabs as spaces, other control
// characters removed. It is never longer than b.
func cleanSnippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// parseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date, as a wait capped at maxRetryAfter. It returns 0 for a value it
// cannot read or one in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return min(max(d, 0), maxRetryAfter)
}

// signatureHeader is the X-Checkstack-Signature value for body sent at now.
func signatureHeader(secret string, now time.Time, body []byte) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return "t=" + ts + "," + signatureVersion + "=" + hex.EncodeToString(sign(secret, ts, body))
}

// sign is HMAC-SHA256(secret, ts + "." + body).
func sign(secret, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Verify checks a signature header as Send writes it, for receivers (and
// tests): the HMAC of "<t>." + body under secret must equal one of the
// header's v1 values, and t must be within tolerance of now, in either
// direction. Keys other than t and v1 are ignored, so that a later scheme
// can be added beside v1. The error says which check failed.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("delivery: verify signature: empty secret")
	}
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("delivery: %w: %q is not key=value", errSignatureMalformed, part)
		}
		switch key {
		case "t":
			if ts != "" {
				return fmt.Errorf("delivery: %w: t given twice", errSignatureMalformed)
			}
			ts = value
		case signatureVersion:
			sig, err := hex.DecodeString(value)
			if err != nil {
				return fmt.Errorf("delivery: %w: %s is not hex", errSignatureMalformed, signatureVersion)
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" {
		return fmt.Errorf("delivery: %w: no t", errSignatureMalformed)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("delivery: %w: no %s", errSignatureMalformed, signatureVersion)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("delivery: %w: t=%q is not a Unix time", errSignatureMalformed, ts)
	}
	want := sign(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		// Every value is compared, in constant time, whatever the others give.
		matched = hmac.Equal(sig, want) || matched
	}
	if !matched {
		return fmt.Errorf("delivery: %w", errSignatureMismatch)
	}
	signed := time.Unix(secs, 0)
	if age := now.Sub(signed).Abs(); age > tolerance {
		return fmt.Errorf("delivery: %w: signed at %s, %v from now, tolerance %v",
			errSignatureStale, signed.UTC().Format(time.RFC3339), age, tolerance)
	}
	return nil
}
