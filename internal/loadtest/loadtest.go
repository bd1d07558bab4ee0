package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/loop"
)

// Options configure a Run. Only Server and Keys are required; every other
// zero value is a working default.
type Options struct {
	// Server is the server's base URL, such as "http://localhost:8080".
	Server string
	// Keys are the API keys the users send, user i sending
	// Keys[i%len(Keys)]; at least one. With Seed, Keys[0] must be an
	// admin's.
	Keys []string
	// Users is how many dashboards are open at once; 0: 10.
	Users int
	// Systems is how many systems each bulk read asks for (the first ones
	// getSystems lists, fewer if the catalog has fewer); 0: 50, at most
	// 1000 (the bulk reads' limit).
	Systems int
	// Duration is how long the users run; 0: 30s.
	Duration time.Duration
	// Poll is how often each user polls; 0: 5s.
	Poll time.Duration
	// Seed creates the systems missing to make Systems ("loadtest-<n>",
	// through catalog/createSystem) before the run; false: the run uses
	// the systems there are.
	Seed bool
	// Progress receives a progress line while the run goes on; nil: none.
	Progress io.Writer
	// Overwrite rewrites the progress line in place every second, for a
	// terminal; false: a new line every 5 seconds, for a log.
	Overwrite bool
}

const maxSystems = 1000

// withDefaults returns o with its zero values replaced, or an error naming
// the first field that is wrong.
func (o Options) withDefaults() (Options, error) {
	u, err := url.Parse(o.Server)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return o, fmt.Errorf("loadtest: Server must be an http:// or https:// URL, not %q", o.Server)
	case len(o.Keys) == 0:
		return o, errors.New("loadtest: no API key")
	case o.Users < 0, o.Systems < 0, o.Duration < 0, o.Poll < 0:
		return o, errors.New("loadtest: Users, Systems, Duration and Poll must not be negative")
	case o.Systems > maxSystems:
		return o, fmt.Errorf("loadtest: Systems must be at most %d, not %d", maxSystems, o.Systems)
	}
	for i, k := range o.Keys {
		if k == "" || strings.ContainsAny(k, " \t\r\n") {
			return o, fmt.Errorf("loadtest: key %d is empty or has white space", i+1)
		}
	}
	o.Server = strings.TrimRight(o.Server, "/")
	if o.Users == 0 {
		o.Users = 10
	}
	if o.Systems == 0 {
		o.Systems = 50
	}
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 5 * time.Second
	}
	return o, nil
}

// Run runs the users against the server for opts.Duration, or until ctx
// ends, and reports what happened. It returns an error, and no report,
// only when the run could not start: an option is wrong, the first key
// cannot read the catalog, or Seed could not create a system. Errors during
// the run are counted in the report instead; so is a /metrics that cannot
// be read (Report.ServerErr).
func Run(ctx context.Context, opts Options) (*Report, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	setup := &client{server: o.Server, key: o.Keys[0], http: &http.Client{Transport: newTransport(), Timeout: requestTimeout}}
	defer setup.http.CloseIdleConnections()
	systems, created, err := prepare(ctx, setup, o)
	if err != nil {
		return nil, err
	}
	before, beforeErr := scrape(ctx, setup)

	rec := newRecorder()
	users := make([]*user, o.Users)
	var fns []func(context.Context)
	for i := range users {
		users[i] = newUser(o, o.Keys[i%len(o.Keys)], rec)
		fns = append(fns, users[i].run, users[i].listen)
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	if o.Progress != nil {
		fns = append(fns, func(ctx context.Context) { rec.progress(ctx, o.Progress, o.Overwrite, start) })
	}
	var l loop.Loop
	l.Start(runCtx, fns...)
	<-runCtx.Done()
	_ = l.Stop(context.Background()) // cannot fail: its context never ends
	elapsed := time.Since(start)
	for _, u := range users {
		u.close()
	}

	rep := rec.report(elapsed)
	rep.Users, rep.Systems, rep.Created = o.Users, min(systems, o.Systems), created
	// The run's end may be ctx's (an interrupt): the last scrape still
	// happens, bounded on its own.
	afterCtx, cancelAfter := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancelAfter()
	after, afterErr := scrape(afterCtx, setup)
	switch {
	case beforeErr != nil:
		rep.ServerErr = beforeErr
	case afterErr != nil:
		rep.ServerErr = afterErr
	default:
		rep.Server, rep.ServerErr = after.since(before)
	}
	return rep, nil
}

// prepare reads the catalog, first seeding it when o.Seed asks, and
// returns how many systems it has and how many it created.
func prepare(ctx context.Context, c *client, o Options) (systems, created int, err error) {
	ids, err := c.systemIDs(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("loadtest: %w", err)
	}
	if !o.Seed {
		return len(ids), 0, nil
	}
	for n := len(ids) + 1; n <= o.Systems; n++ {
		body := fmt.Sprintf(`{"name":"loadtest-%d","description":"created by checkstack loadtest"}`, n)
		if _, err := c.do(ctx, "catalog/createSystem", body); err != nil {
			return 0, created, fmt.Errorf("loadtest: seed system %d of %d (--seed needs an admin's key): %w", n, o.Systems, err)
		}
		created++
	}
	return len(ids) + created, created, nil
}

// requestTimeout bounds every request but the signal streams.
const requestTimeout = 30 * time.Second

// newTransport returns the transport of one user: its own connections,
// with a timeout on every step that can hang.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
		MaxIdleConnsPerHost:   2, // one for the requests, one for a stream being reopened
		IdleConnTimeout:       90 * time.Second,
	}
}
