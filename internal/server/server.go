// Package server is the HTTP layer: it routes POST /api/<domain>/<procedure>
// to the domains' rpc.Procedures, enforces the conventions (JSON bodies of
// at most 1 MiB, strict decoding, who may call what), maps errors to
// statuses in one place, recovers panics, and serves the operational
// endpoints (/healthz, /readyz, /metrics) and the signal stream. It holds no
// domain logic.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// Options configure a Server. Logger and Authenticate are required.
type Options struct {
	Logger *slog.Logger
	// Authenticate resolves the caller. An *rpc.Error means credentials
	// were presented and are wrong (its status, 401); any other error that
	// they could not be checked (503 with Retry-After); no credentials is
	// the zero Principal.
	Authenticate func(r *http.Request) (rpc.Principal, error)
	Procedures   []rpc.Procedure
	// Signals serves GET /api/signals. Nil: 404.
	Signals http.Handler
	// Ready reports whether the server can serve (the database answers).
	// Nil: always ready.
	Ready func(ctx context.Context) error
	// Registry receives the HTTP metrics and serves /metrics. Nil: a new one.
	Registry *prometheus.Registry
	// PublicStatus makes anonymous callers public viewers (Principal.Public):
	// they may call the Viewer procedures, which answer them what the
	// public status page shows.
	PublicStatus bool
	// Pages serves every path the API does not (the web pages). Nil: 404.
	Pages http.Handler
}

// Server is the API's http.Handler.
type Server struct {
	log   *slog.Logger
	auth  func(r *http.Request) (rpc.Principal, error)
	procs map[string]rpc.Procedure // by "domain/name"
	// metered holds each procedure's latency observer and 200 counter,
	// resolved once: a label lookup per request is a hash and a lock.
	metered map[string]meters
	list    []procedureInfo
	ready   func(ctx context.Context) error
	mux     *http.ServeMux

	publicStatus bool

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

type meters struct {
	latency prometheus.Observer
	ok      prometheus.Counter
}

type procedureInfo struct {
	Path   string `json:"path"`
	Domain string `json:"domain"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Access string `json:"access"`
}

// New returns a Server. It panics on a procedure declared twice: that is a
// wiring mistake, not input.
func New(opts Options) *Server {
	s := &Server{
		log:     opts.Logger.With("component", "server"),
		auth:    opts.Authenticate,
		procs:   make(map[string]rpc.Procedure, len(opts.Procedures)),
		metered: make(map[string]meters, len(opts.Procedures)),
		ready:   opts.Ready,
		mux:     http.NewServeMux(),

		publicStatus: opts.PublicStatus,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "checkstack_http_requests_total",
			Help: "API requests by procedure and status code.",
		}, []string{"procedure", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "checkstack_http_request_duration_seconds",
			Help:    "API request latency by procedure.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"procedure"}),
	}
	for _, p := range opts.Procedures {
		key := p.Domain + "/" + p.Name
		if _, dup := s.procs[key]; dup {
			panic("server: procedure declared twice: " + key)
		}
		s.procs[key] = p
		s.metered[key] = meters{latency: s.latency.WithLabelValues(key), ok: s.requests.WithLabelValues(key, "200")}
		s.list = append(s.list, procedureInfo{
			Path: "/api/" + key, Domain: p.Domain, Name: p.Name,
			Kind: p.Kind.String(), Access: p.Access.String(),
		})
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].Path < s.list[j].Path })

	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(s.requests, s.latency)

	s.mux.HandleFunc("/api/{domain}/{procedure}", s.serveProcedure)
	s.mux.HandleFunc("GET /api/{$}", s.serveList)
	if opts.Signals != nil {
		s.mux.Handle("/api/signals", opts.Signals)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &rpc.Error{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "no such endpoint: " + r.URL.Path})
	}
	s.mux.HandleFunc("/api/", notFound)
	if opts.Pages != nil {
		s.mux.Handle("/", opts.Pages)
	} else {
		s.mux.HandleFunc("/", notFound)
	}
	return s
}

// Principal resolves a request's caller as the API does: its credentials,
// or for an anonymous caller of a server with a public status page, a
// public viewer.
func (s *Server) Principal(r *http.Request) (rpc.Principal, error) {
	p, err := s.auth(r)
	if err != nil {
		return p, err
	}
	if s.publicStatus && !p.SignedIn() && p.SatelliteID == "" {
		p.Public = true
	}
	return p, nil
}

// ServeHTTP implements http.Handler, recovering panics into a 500 that
// says nothing about them.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v))
			writeError(w, internalError)
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"procedures": s.list})
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) serveProcedure(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("domain") + "/" + r.PathValue("procedure")
	p, ok := s.procs[key]
	if !ok {
		writeError(w, &rpc.Error{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "no such procedure: " + key})
		return
	}
	start := time.Now()
	status := s.call(w, r, p)
	m := s.metered[key]
	if status == http.StatusOK {
		m.ok.Inc()
	} else {
		s.requests.WithLabelValues(key, strconv.Itoa(status)).Inc()
	}
	m.latency.Observe(time.Since(start).Seconds())
}

// call runs one procedure and returns the status it answered with.
func (s *Server) call(w http.ResponseWriter, r *http.Request, p rpc.Procedure) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return writeError(w, &rpc.Error{Status: http.StatusMethodNotAllowed, Code: "METHOD_NOT_ALLOWED", Message: "use POST"})
	}
	if ct := r.Header.Get("Content-Type"); ct != "" || r.ContentLength > 0 {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return writeError(w, &rpc.Error{Status: http.StatusUnsupportedMediaType, Code: "UNSUPPORTED_MEDIA_TYPE", Message: "Content-Type must be application/json"})
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return writeError(w, &rpc.Error{Status: http.StatusRequestEntityTooLarge, Code: "PAYLOAD_TOO_LARGE", Message: fmt.Sprintf("body over %d bytes", MaxBodyBytes)})
		}
		return writeError(w, rpc.BadRequest("body: could not be read"))
	}

	principal, err := s.Principal(r)
	var refused *rpc.Error
	switch {
	case errors.As(err, &refused):
		return writeError(w, refused) // credentials presented and wrong: 401
	case err != nil:
		// The credentials could not be checked: not the caller's fault,
		// and not a reason for it to drop them.
		s.log.WarnContext(r.Context(), "authentication failed", "err", err)
		w.Header().Set("Retry-After", "5")
		return writeError(w, rpc.Unavailable("cannot check credentials now; try again shortly"))
	}
	if err := p.Authorize(principal); err != nil {
		return s.fail(w, r, p, err)
	}

	req := &rpc.Request{Principal: principal, RemoteAddr: clientIP(r), HTTP: r, Header: w.Header()}
	out, err := p.Answer(r.Context(), req, body)
	if err != nil {
		return s.fail(w, r, p, err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h["Content-Length"] = []string{strconv.Itoa(out.Len())} // known: no chunked encoding
	w.WriteHeader(http.StatusOK)
	out.WriteTo(w)
	out.Release()
	return http.StatusOK
}

// readBody reads r's body, at most MaxBodyBytes, into a buffer sized from
// its Content-Length when it has one (io.ReadAll would grow and copy it
// several times for a bulk read's ids).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if n := r.ContentLength; n > 0 && n <= MaxBodyBytes {
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil // the server has read Content-Length bytes: that is the body
	}
	return io.ReadAll(body)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
