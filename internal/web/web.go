package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/checkstack/checkstack/internal/rpc"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Options configure a Handler. Procedures and Authenticate are required.
type Options struct {
	// Procedures are the API's: every page reads and writes through them,
	// as any client does.
	Procedures []rpc.Procedure
	// Authenticate resolves the caller from the session cookie (or a
	// bearer key), as the API does.
	Authenticate func(r *http.Request) (rpc.Principal, error)
	// PublicStatus serves the public status page, its feeds and badges to
	// anonymous visitors.
	PublicStatus bool
	// Signals, when set, count the public signals (signal.Hub): a public
	// page rendered before the latest is not served again. Nil: the
	// rendered pages live their few seconds.
	Signals interface{ PublicSeq() uint64 }
	// Logger receives render and procedure failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now.
	Now func() time.Time
}

// Handler serves the pages. It is safe for concurrent use.
type Handler struct {
	procs  map[string]rpc.Procedure
	auth   func(r *http.Request) (rpc.Principal, error)
	public bool
	log    *slog.Logger
	now    func() time.Time
	tmpl   *template.Template            // every template, for partial renders
	views  map[string]*template.Template // each page in the layout, by name
	mux    *http.ServeMux
	static http.Handler

	pages   pageCache          // rendered public pages, as bytes
	renders singleflight.Group // the public renders under way
	assets  map[string]string  // each static file's link, with its version
}

// New returns the pages' handler. It panics on a template that does not
// parse: that is a build mistake, not input.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{
		procs:  make(map[string]rpc.Procedure, len(opts.Procedures)),
		auth:   opts.Authenticate,
		public: opts.PublicStatus,
		pages:  pageCache{signals: opts.Signals},
		log:    opts.Logger.With("component", "web"),
		now:    opts.Now,
		mux:    http.NewServeMux(),
	}
	for _, p := range opts.Procedures {
		h.procs[p.Domain+"/"+p.Name] = p
	}
	h.tmpl = template.Must(template.New("").Funcs(h.funcs()).ParseFS(templateFiles, "templates/*.html"))
	h.views = map[string]*template.Template{}
	for _, t := range h.tmpl.Templates() {
		name, ok := strings.CutSuffix(t.Name(), ":main")
		if !ok {
			continue
		}
		v := template.Must(h.tmpl.Lookup("layout").Clone())
		template.Must(v.AddParseTree("main", t.Tree))
		h.views[name] = v
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	h.assets = map[string]string{}
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		h.assets[name] = "/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
	}
	h.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	h.routes()
	return h
}

// ServeHTTP serves a page with the security headers every page carries.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method == http.MethodPost {
		if !sameOrigin(r) {
			http.Error(w, "forbidden: this form must be sent from this site", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	h.mux.ServeHTTP(w, r)
}

// maxFormBytes is the most a form may send, as the API's bodies.
const maxFormBytes = 1 << 20

// sameOrigin is the CSRF check of every form: a POST must come from a page
// of this site, as its Origin (or, failing that, its Referer) says.
func sameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" || from == "null" {
		from = r.Header.Get("Referer")
	}
	u, err := url.Parse(from)
	if err != nil || from == "" {
		return false
	}
	return u.Host == r.Host
}

// viewer is who asks for a page.
type viewer struct {
	rpc.Principal
}

func (h *Handler) viewer(r *http.Request) viewer {
	p, err := h.auth(r)
	if err != nil {
		p = rpc.Principal{} // a stale cookie: as anonymous
	}
	if h.public && !p.SignedIn() {
		p.Public = true
	}
	return viewer{p}
}

// call runs a procedure as v, as the API would: the same access check,
// the same decoding and validation. in is encoded as its input (nil:
// {}); out, when not nil, receives its result.
func (h *Handler) call(r *http.Request, hdr http.Header, v viewer, name string, in, out any) error {
	proc, ok := h.procs[name]
	if !ok {
		return fmt.Errorf("web: no procedure %s", name)
	}
	if err := proc.Authorize(v.Principal); err != nil {
		return err
	}
	body := []byte("{}")
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("web: encode the input of %s: %w", name, err)
		}
	}
	if hdr == nil {
		hdr = http.Header{}
	}
	raw, err := proc.Call(r.Context(), &rpc.Request{Principal: v.Principal, RemoteAddr: clientIP(r), HTTP: r, Header: hdr}, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("web: decode the result of %s: %w", name, err)
	}
	return nil
}

// calls runs several reads at once and returns the first error.
func calls(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// page is what every template gets.
type page struct {
	Title   string
	Viewer  viewer
	Path    string
	Unread  int
	Banner  []announcement
	Refresh string // the signals the page refreshes on, space-separated; "" none
	Flash   string // a one-time message (a key shown once)
	System  string // the system the page is about: its signals are the ones it refreshes on
	Data    any

	active []announcement // every active announcement, banner or not
}

// render writes the page's template: whole, or only its main content
// when the page's script asks for it to refresh in place.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Path = r.URL.Path
	var b bytes.Buffer
	if err := h.execute(&b, name, r, p); err != nil {
		h.log.ErrorContext(r.Context(), "cannot render a page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// execute writes page name: whole, or (for a live page's refresh, as
// X-Checkstack-Partial: main asks) only what its <main> holds.
func (h *Handler) execute(w io.Writer, name string, r *http.Request, p page) error {
	t := h.views[name]
	if t == nil {
		panic("web: no page " + name)
	}
	if r.Header.Get("X-Checkstack-Partial") == "main" {
		return t.ExecuteTemplate(w, "content", p)
	}
	return t.Execute(w, p)
}

// fail answers a failed read: sign in, not found, or an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v viewer, err error) {
	var e *rpc.Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusUnauthorized:
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	case errors.As(err, &e) && e.Status < 500:
		h.render(w, r, e.Status, "error", page{Title: label(strings.ToLower(http.StatusText(e.Status))), Viewer: v, Data: label(e.Message) + "."})
	default:
		h.log.ErrorContext(r.Context(), "page failed", "path", r.URL.Path, "err", err)
		h.render(w, r, http.StatusInternalServerError, "error", page{Title: "Something went wrong", Viewer: v,
			Data: "Something went wrong on our side; it has been logged."})
	}
}

// fieldErrors maps a validation error ("config.url: must be …") to the
// field it names, for the form to show it next to that field.
func fieldErrors(err error) map[string]string {
	var e *rpc.Error
	if !errors.As(err, &e) || e.Status >= 500 {
		return map[string]string{"": serverFault}
	}
	field, reason, ok := strings.Cut(e.Message, ": ")
	if !ok || strings.ContainsAny(field, " \"") {
		return map[string]string{"": e.Message}
	}
	return map[string]string{field: reason}
}

// serverFault is what a form says when the server, not the input, failed.
const serverFault = "Something went wrong on our side; it has been logged. Try again."

// refused is the status of a refused form: 400 (or the API's 404 or 409)
// for the input, 500, logged, for the server.
func (h *Handler) refused(r *http.Request, err error) int {
	switch s := errorStatus(err); {
	case s >= 500:
		h.log.ErrorContext(r.Context(), "a form failed", "path", r.URL.Path, "err", err)
		return http.StatusInternalServerError
	case s == http.StatusConflict || s == http.StatusNotFound:
		return s
	}
	return http.StatusBadRequest
}

// pageCache keeps rendered public pages (the status page, its feeds,
// badges) as bytes, by key, for at most pageTTL and never past the next
// public signal: each page is kept with the count of public signals
// (PublicSeq) read before its render began, and served only while the
// count is unchanged. A visitor told of a signal therefore never gets a
// page rendered before it (the hub counts a signal before delivering
// it), and a signal during a render leaves that render stale at once.
type pageCache struct {
	signals interface{ PublicSeq() uint64 }

	mu      sync.Mutex
	seq     uint64 // the count the entries were rendered at
	entries map[string]cachedPage
}

type cachedPage struct {
	body        []byte
	contentType string
	seq         uint64
	until       time.Time
}

const (
	pageTTL      = 10 * time.Second
	pageCacheMax = 10000 // entries; keys are bounded, this is a backstop
)

// count is the public signals' count now: a render that begins after
// reading it puts under it.
func (c *pageCache) count() uint64 {
	if c.signals == nil {
		return 0
	}
	return c.signals.PublicSeq()
}

func (c *pageCache) get(key string, now time.Time) (cachedPage, bool) {
	seq := c.count()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok && e.seq == seq && now.Before(e.until)
}

func (c *pageCache) put(key string, e cachedPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.seq < c.seq {
		return // rendered before a signal another render has seen
	}
	if e.seq > c.seq || len(c.entries) >= pageCacheMax {
		clear(c.entries) // all older than e
		c.seq = e.seq
	}
	if c.entries == nil {
		c.entries = map[string]cachedPage{}
	}
	c.entries[key] = e
}
