package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

// HTTP checks a URL: it sends one request over a fresh connection and
// judges the response by its status, body and, optionally, one value in
// its JSON. Its configuration is an HTTPConfig. Like net/http's default
// transport it goes through the proxy HTTPS_PROXY, HTTP_PROXY and NO_PROXY
// name, and never for loopback addresses. The zero value trusts the
// system's root certificates.
type HTTP struct {
	// roots, when non-nil, replaces the system roots for tlsVerify. Only
	// tests set it (see export_test.go), to trust a server they started.
	roots *x509.CertPool
}

var _ Strategy = HTTP{}

// HTTPConfig is the configuration of the http strategy, as JSON. Validate
// fills in the defaults shown.
type HTTPConfig struct {
	// Method is the request method: GET (the default), HEAD, POST, PUT,
	// PATCH, DELETE or OPTIONS. Validate upper-cases it.
	Method string `json:"method"`
	// URL is the absolute http or https URL to request. Required.
	URL string `json:"url"`
	// Headers are set on the request. A "Host" entry sets the Host header.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent as the request body; empty sends none.
	Body string `json:"body,omitempty"`
	// ExpectedStatus lists the statuses that pass. Empty, the default,
	// means any 2xx; Validate leaves it empty rather than listing 100
	// statuses.
	ExpectedStatus []int `json:"expectedStatus,omitempty"`
	// BodyContains, when set, must appear in the first MiB of the body.
	BodyContains string `json:"bodyContains,omitempty"`
	// JSONPath, when set, is a dotted path into the body parsed as JSON:
	// "status", "checks.db.state", "items.0.name". A segment indexes an
	// array when the value there is one; keys containing dots cannot be
	// reached. With JSONEquals unset, the path need only exist.
	JSONPath string `json:"jsonPath,omitempty"`
	// JSONEquals, when set, is the JSON value (null included) found at
	// JSONPath must equal. Numbers compare by value: 1 equals 1.0.
	JSONEquals json.RawMessage `json:"jsonEquals,omitempty"`
	// FollowRedirects follows up to 10 redirects when true (the default);
	// when false a 3xx response is the one judged.
	FollowRedirects bool `json:"followRedirects"`
	// TLSVerify checks the server's certificate chain and host name when
	// true (the default).
	TLSVerify bool `json:"tlsVerify"`
	// DegradedLatencyMs, when above 0, makes a passing run that took longer
	// than this many milliseconds degraded. 0, the default, never does.
	DegradedLatencyMs int `json:"degradedLatencyMs,omitempty"`
}

const (
	maxHTTPBody      = 1 << 20 // bytes of response body read
	maxHTTPHeader    = 1 << 20 // bytes of response headers accepted
	maxHTTPRedirects = 10
)

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Name returns "http".
func (HTTP) Name() string { return "http" }

// Validate checks an HTTPConfig and returns it with defaults filled in.
func (HTTP) Validate(config json.RawMessage) (json.RawMessage, error) {
	cfg, err := parseHTTPConfig(config)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cfg)
}

func parseHTTPConfig(config json.RawMessage) (HTTPConfig, error) {
	cfg := HTTPConfig{Method: "GET", FollowRedirects: true, TLSVerify: true}
	set, err := decodeConfig(config, fields{
		"method":            &cfg.Method,
		"url":               &cfg.URL,
		"headers":           &cfg.Headers,
		"body":              &cfg.Body,
		"expectedStatus":    &cfg.ExpectedStatus,
		"bodyContains":      &cfg.BodyContains,
		"jsonPath":          &cfg.JSONPath,
		"jsonEquals":        &cfg.JSONEquals,
		"followRedirects":   &cfg.FollowRedirects,
		"tlsVerify":         &cfg.TLSVerify,
		"degradedLatencyMs": &cfg.DegradedLatencyMs,
	})
	if err != nil {
		return HTTPConfig{}, err
	}
	cfg.Method = strings.ToUpper(cfg.Method)
	if !slices.Contains(httpMethods, cfg.Method) {
		return HTTPConfig{}, rpc.Invalid("config.method", "must be one of "+strings.Join(httpMethods, ", "))
	}
	if cfg.URL == "" {
		return HTTPConfig{}, rpc.Invalid("config.url", "required")
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return HTTPConfig{}, rpc.Invalid("config.url", "must be an absolute http or https URL")
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Headers)) {
		if !isToken(name) {
			return HTTPConfig{}, rpc.Invalid("config.headers", fmt.Sprintf("%q is not a valid header name", name))
		}
		if strings.ContainsAny(cfg.Headers[name], "\r\n\x00") {
			return HTTPConfig{}, rpc.Invalid("config.headers."+name, "must not contain line breaks or NUL")
		}
	}
	for i, code := range cfg.ExpectedStatus {
		if code < 100 || code > 599 {
			return HTTPConfig{}, rpc.Invalid(fmt.Sprintf("config.expectedStatus[%d]", i), "must be between 100 and 599")
		}
	}
	if cfg.Method == "HEAD" {
		if cfg.BodyContains != "" {
			return HTTPConfig{}, rpc.Invalid("config.bodyContains", "cannot be checked with method HEAD, whose response has no body")
		}
		if cfg.JSONPath != "" {
			return HTTPConfig{}, rpc.Invalid("config.jsonPath", "cannot be checked with method HEAD, whose response has no body")
		}
	}
	if cfg.JSONPath != "" && slices.Contains(strings.Split(cfg.JSONPath, "."), "") {
		return HTTPConfig{}, rpc.Invalid("config.jsonPath", `must be a dotted path such as "checks.db.state", with no empty segment`)
	}
	if cfg.JSONEquals != nil && cfg.JSONPath == "" {
		return HTTPConfig{}, rpc.Invalid("config.jsonEquals", "needs config.jsonPath")
	}
	if err := checkDegraded(set, cfg.DegradedLatencyMs); err != nil {
		return HTTPConfig{}, err
	}
	return cfg, nil
}

// isToken reports whether s is a valid header field name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// Run sends the request and judges the response. Details: statusCode, url
// (after redirects), responseBytes (of body read, at most 1 MiB) and, over
// https, tlsExpiresAt (RFC 3339) and tlsDaysLeft of the server's
// certificate.
func (s HTTP) Run(ctx context.Context, config json.RawMessage) (res Result) {
	defer recoverPanic(&res, "http")
	cfg, err := parseHTTPConfig(config)
	if err != nil {
		return invalidConfig(err)
	}
	ctx, cancel, budget := begin(ctx)
	defer cancel()
	return s.run(ctx, cfg, budget)
}

func (s HTTP) run(ctx context.Context, cfg HTTPConfig, budget time.Duration) Result {
	start := time.Now()
	op := cfg.Method + " " + cfg.URL
	fail := func(format string, args ...any) Result {
		return Result{Status: Unhealthy, Latency: time.Since(start), Message: op + ": " + fmt.Sprintf(format, args...)}
	}

	transport := &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{}).DialContext,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: !cfg.TLSVerify, // the check's own setting
			RootCAs:            s.roots,
		},
		TLSHandshakeTimeout:    budget,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxHTTPHeader,
		ForceAttemptHTTP2:      true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		Timeout:   budget, // ctx ends first; this bounds the client on its own too
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if !cfg.FollowRedirects {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxHTTPRedirects {
				return fmt.Errorf("stopped after %d redirects", maxHTTPRedirects)
			}
			return nil
		},
	}

	var body io.Reader
	if cfg.Body != "" {
		body = strings.NewReader(cfg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, cfg.Method, cfg.URL, body)
	if err != nil {
		return fail("cannot build the request: %v", err)
	}
	req.Header.Set("User-Agent", "checkstack-probe")
	for name, value := range cfg.Headers {
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Set(name, value)
	}

	resp, err := client.Do(req)
	if err != nil {
		res := fail("%s", describeConnError(err))
		if why := stopped(ctx, err, budget); why != "" {
			res = fail("%s", why)
		}
		if resp != nil {
			// A redirect that was refused leaves the response before it.
			res.Details = map[string]any{"statusCode": resp.StatusCode, "url": resp.Request.URL.String()}
		}
		return res
	}
	// Closing a body already read reports nothing worth a result.
	defer func() { _ = resp.Body.Close() }()

	final := resp.Request.URL.String()
	details := map[string]any{"statusCode": resp.StatusCode, "url": final}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		notAfter := resp.TLS.PeerCertificates[0].NotAfter
		details["tlsExpiresAt"] = notAfter.UTC().Format(time.RFC3339)
		details["tlsDaysLeft"] = daysLeft(notAfter, time.Now())
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody+1))
	truncated := len(data) > maxHTTPBody
	if truncated {
		data = data[:maxHTTPBody]
	}
	details["responseBytes"] = len(data)
	withDetails := func(r Result) Result { r.Details = details; return r }
	if err != nil {
		if why := stopped(ctx, err, budget); why != "" {
			return withDetails(fail("status %d, then %s reading the body", resp.StatusCode, why))
		}
		return withDetails(fail("status %d, then reading the body failed: %v", resp.StatusCode, err))
	}
	elapsed := time.Since(start)

	from := ""
	if final != cfg.URL {
		from = " from " + final
	}
	if !statusExpected(resp.StatusCode, cfg.ExpectedStatus) {
		return withDetails(fail("status %d%s, want %s", resp.StatusCode, from, describeStatuses(cfg.ExpectedStatus)))
	}
	within := ""
	if truncated {
		within = " (first MiB read)"
	}
	if cfg.BodyContains != "" && !bytes.Contains(data, []byte(cfg.BodyContains)) {
		return withDetails(fail("status %d%s, but the body%s does not contain %q; it begins %s",
			resp.StatusCode, from, within, cfg.BodyContains, snippet(data, 80)))
	}
	if cfg.JSONPath != "" {
		if problem := checkJSON(data, cfg.JSONPath, cfg.JSONEquals); problem != "" {
			return withDetails(fail("status %d%s, but %s%s", resp.StatusCode, from, problem, within))
		}
	}
	return success(fmt.Sprintf("%s: status %d%s", op, resp.StatusCode, from), elapsed, cfg.DegradedLatencyMs, details)
}

// statusExpected reports whether code passes: it is listed in expected or,
// when expected is empty, it is a 2xx.
func statusExpected(code int, expected []int) bool {
	if len(expected) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(expected, code)
}

// describeStatuses says what statuses pass: "2xx", "200", "200 or 204".
func describeStatuses(expected []int) string {
	if len(expected) == 0 {
		return "2xx"
	}
	codes := make([]string, len(expected))
	for i, c := range expected {
		codes[i] = strconv.Itoa(c)
	}
	return strings.Join(codes, " or ")
}

// checkJSON looks up path in the JSON document data and compares what it
// finds with want (nil: the path need only exist). It returns "" when the
// check passes, or what went wrong, for a person to read.
func checkJSON(data []byte, path string, want json.RawMessage) string {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Sprintf("the body is not JSON (%v), so jsonPath %q cannot be checked", err, path)
	}
	got, err := lookupPath(doc, path)
	if err != nil {
		return fmt.Sprintf("jsonPath %q not found: %v", path, err)
	}
	if want == nil {
		return ""
	}
	var wantValue any
	if err := json.Unmarshal(want, &wantValue); err != nil {
		return fmt.Sprintf("jsonEquals is not valid JSON: %v", err)
	}
	if reflect.DeepEqual(got, wantValue) {
		return ""
	}
	return fmt.Sprintf("jsonPath %q is %s, want %s", path, compactJSON(got), compactJSON(wantValue))
}

// lookupPath follows a dotted path, such as "checks.db.state" or
// "items.0.name", into a decoded JSON document.
func lookupPath(doc any, path string) (any, error) {
	segments := strings.Split(path, ".")
	current := doc
	for i, seg := range segments {
		where := "the document"
		if i > 0 {
			where = strconv.Quote(strings.Join(segments[:i], "."))
		}
		switch v := current.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, fmt.Errorf("%s has no key %q", where, seg)
			}
			current = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s is an array and %q is not an index", where, seg)
			}
			if n >= len(v) {
				return nil, fmt.Errorf("%s has %d elements, so no index %d", where, len(v), n)
			}
			current = v[n]
		default:
			return nil, fmt.Errorf("%s is %s, not an object or array", where, compactJSON(v))
		}
	}
	return current, nil
}

// compactJSON renders a decoded JSON value for a message, shortened when
// long.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const limit = 100
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}
