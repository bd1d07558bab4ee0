package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/signal"
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
	// Hub, when set, tells the handler when to drop the public pages it
	// keeps rendered: on every signal the status page refreshes on.
	Hub *signal.Hub
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
	hub    *signal.Hub
	log    *slog.Logger
	now    func() time.Time
	tmpl   *template.Template            // every template, for partial renders
	views  map[string]*template.Template // each page in the layout, by name
	mux    *http.ServeMux
	static http.Handler

	pages pageCache // rendered public pages, as bytes
	stop  func()
	wg    sync.WaitGroup
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
		hub:    opts.Hub,
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
	h.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	h.routes()
	return h
}

// Start keeps the rendered public pages fresh: it drops them on every
// signal the status page refreshes on, until Stop.
func (h *Handler) Start(ctx context.Context) {
	if h.hub == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	h.stop = cancel
	h.wg.Go(func() {
		for ctx.Err() == nil {
			sub := h.hub.SubscribePublic()
			h.pages.drop() // whatever happened while no subscription listened
			for open := true; open; {
				select {
				case <-ctx.Done():
					sub.Close()
					return
				case _, ok := <-sub.Events():
					h.pages.drop()
					open = ok
				}
			}
			sub.Close()
		}
	})
}

// Stop stops keeping the pages fresh. Safe to call twice, or without
// Start.
func (h *Handler) Stop(context.Context) error {
	if h.stop != nil {
		h.stop()
	}
	h.wg.Wait()
	return nil
}

// ServeHTTP serves a page with the security headers every page carries.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "forbidden: this form must be sent from this site", http.StatusForbidden)
		return
	}
	h.mux.ServeHTTP(w, r)
}

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
	Data    any
}

// render writes the page's template: whole, or only its main content
// when the page's script asks for it to refresh in place.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Path = r.URL.Path
	var b bytes.Buffer
	t := h.views[name]
	if r.Header.Get("X-Checkstack-Partial") == "main" {
		t = h.tmpl.Lookup(name + ":main")
	}
	if t == nil {
		panic("web: no page " + name)
	}
	if err := t.Execute(&b, p); err != nil {
		h.log.ErrorContext(r.Context(), "cannot render a page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fail answers a failed read: sign in, not found, or an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v viewer, err error) {
	var e *rpc.Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusUnauthorized:
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	case errors.As(err, &e) && e.Status < 500:
		h.render(w, r, e.Status, "error", page{Title: http.StatusText(e.Status), Viewer: v, Data: e.Message})
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
		return map[string]string{"": "Something went wrong on our side; try again."}
	}
	field, reason, ok := strings.Cut(e.Message, ": ")
	if !ok || strings.ContainsAny(field, " \"") {
		return map[string]string{"": e.Message}
	}
	return map[string]string{field: reason}
}

// pageCache keeps rendered public pages (the status page, its feeds,
// badges) as bytes, by path, for at most a few seconds and until the next
// signal that may change them. A page rendered while a signal dropped the
// cache is not kept: put stores only under the generation the render
// began in.
type pageCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]cachedPage
}

type cachedPage struct {
	body        []byte
	contentType string
	until       time.Time
}

const pageTTL = 10 * time.Second

func (c *pageCache) get(key string, now time.Time) (cachedPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok && now.Before(e.until)
}

// generation is the cache's generation, for a render to put under.
func (c *pageCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *pageCache) put(key string, gen uint64, e cachedPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // dropped since the render began: it may be stale
	}
	if c.entries == nil {
		c.entries = map[string]cachedPage{}
	}
	c.entries[key] = e
}

func (c *pageCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}
