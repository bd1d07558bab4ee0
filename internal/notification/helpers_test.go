package notification

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/cache/rediscache"
	"github.com/checkstack/checkstack/internal/auth"
	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// waitFor bounds how long a test waits for something asynchronous (a
// delivery) that should happen at once.
const waitFor = 10 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newClock is a clock the tests move by hand.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)) }

// signalRecord is one signal the bus was asked to send, with what a client that
// refetched on it would have read at that moment.
type signalRecord struct {
	name, user string
	payload    any
	unread     int  // UnreadCount, read through the service
	page       Page // Notifications with defaultFilter, read through the service
	readErr    error
}

// recordingBus remembers the signals sent. When svc is set, each
// SendToUser reads the user's unread count and first page through svc
// before it returns, as a client reacting to the signal would: that read
// must already see the change the signal announces.
type recordingBus struct {
	mu        sync.Mutex
	svc       *Service
	sent      []signalRecord
	broadcast []string
}

func (b *recordingBus) Broadcast(_ context.Context, name string, _ any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.broadcast = append(b.broadcast, name)
	return nil
}

func (b *recordingBus) SendToUser(ctx context.Context, name, userID string, payload any) error {
	rec := signalRecord{name: name, user: userID, payload: payload}
	b.mu.Lock()
	svc := b.svc
	b.mu.Unlock()
	if svc != nil {
		var err1, err2 error
		rec.unread, err1 = svc.UnreadCount(ctx, userID)
		rec.page, err2 = svc.Notifications(ctx, userID, defaultFilter)
		rec.readErr = errors.Join(err1, err2)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, rec)
	return nil
}

// signals returns the signals sent so far.
func (b *recordingBus) signals() []signalRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]signalRecord(nil), b.sent...)
}

// signalsTo returns the signals sent to user since the first `from`
// signals.
func (b *recordingBus) signalsTo(user string, from int) []signalRecord {
	var out []signalRecord
	for _, s := range b.signals()[from:] {
		if s.user == user {
			out = append(out, s)
		}
	}
	return out
}

// defaultFilter is the filter getNotifications applies to an empty input.
var defaultFilter = Filter{Limit: defaultLimit}

// env is a notification service on a fresh database, with the auth service
// that owns its users.
type env struct {
	db    *store.DB
	auth  *auth.Service
	s     *Service
	bus   *recordingBus
	clock *clocktest.Clock // nil unless the test drives the clock
}

// envOptions say how newEnv builds the service.
type envOptions struct {
	provider cache.Provider // nil: an in-process memory cache
	opts     Options
}

func newEnv(t *testing.T, db *store.DB, o envOptions) *env {
	t.Helper()
	if o.provider == nil {
		o.provider = cache.NewMemory(cache.MemoryOptions{})
	}
	a := auth.New(db, quiet, auth.Options{})
	bus := &recordingBus{}
	s := New(db, o.provider, bus, userLookup(a), quiet, o.opts)
	bus.svc = s
	a.OnUserDeleted(s.UserDeleted)
	t.Cleanup(func() { stop(t, s) })
	return &env{db: db, auth: a, s: s, bus: bus}
}

// newClockedEnv is newEnv with a clock the test drives.
func newClockedEnv(t *testing.T, db *store.DB, o envOptions) *env {
	t.Helper()
	c := newClock()
	o.opts.Now = c.Now
	e := newEnv(t, db, o)
	e.clock = c
	return e
}

// userLookup resolves users through the auth service, as the server wires
// it.
func userLookup(a *auth.Service) UserLookup {
	return func(ctx context.Context, id string) (User, error) {
		u, err := a.GetUser(ctx, id)
		if errors.Is(err, auth.ErrNotFound) {
			return User{}, ErrNotFound
		}
		if err != nil {
			return User{}, err
		}
		return User{Name: u.Name, Email: u.Email}, nil
	}
}

// users creates n users for real, named after the test, and returns them.
func (e *env) users(t *testing.T, n int) []auth.User {
	t.Helper()
	out := make([]auth.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	tag := strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
	for i := range out {
		wg.Go(func() {
			out[i], errs[i] = e.auth.CreateUser(context.Background(), fmt.Sprintf("user%d-%s@example.com", i, tag),
				fmt.Sprintf("User %d", i), "correct horse battery", rpc.RoleUser)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("create users: %v", err)
	}
	return out
}

// ids returns the users' ids.
func ids(us []auth.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// notify sends one message titled title to users and returns what was
// made, failing the test on an error.
func (e *env) notify(t *testing.T, title string, users ...string) []Notification {
	t.Helper()
	ns, err := e.s.NotifyUsers(t.Context(), users, Message{Title: title, Body: "body of " + title})
	if err != nil {
		t.Fatalf("NotifyUsers(%q): %v", title, err)
	}
	return ns
}

// group creates a group with id, named after it.
func (e *env) group(t *testing.T, id string) {
	t.Helper()
	if err := e.s.EnsureGroup(t.Context(), Group{ID: id, Name: "Group " + id, Owner: "test"}); err != nil {
		t.Fatalf("EnsureGroup(%s): %v", id, err)
	}
}

func (e *env) subscribe(t *testing.T, user string, groups ...string) {
	t.Helper()
	for _, g := range groups {
		if err := e.s.Subscribe(t.Context(), user, g); err != nil {
			t.Fatalf("Subscribe(%s, %s): %v", user, g, err)
		}
	}
}

// page reads a page through the service, failing the test on an error.
func (e *env) page(t *testing.T, user string, f Filter) Page {
	t.Helper()
	p, err := e.s.Notifications(t.Context(), user, f)
	if err != nil {
		t.Fatalf("Notifications(%s, %+v): %v", user, f, err)
	}
	return p
}

func (e *env) unread(t *testing.T, user string) int {
	t.Helper()
	n, err := e.s.UnreadCount(t.Context(), user)
	if err != nil {
		t.Fatalf("UnreadCount(%s): %v", user, err)
	}
	return n
}

// truePage and trueUnread read the database, bypassing the cache.
func (e *env) truePage(t *testing.T, user string, f Filter) Page {
	t.Helper()
	p, err := e.s.st.page(t.Context(), user, f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) trueUnread(t *testing.T, user string) int {
	t.Helper()
	n, err := e.s.st.unreadCount(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rows counts the rows of table that belong to user, bypassing the
// service.
func (e *env) rows(t *testing.T, table, user string) int {
	t.Helper()
	var n int
	if err := e.db.For("test").QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table+` WHERE user_id = ?`, user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// queries returns how many queries the notification domain has run.
func (e *env) queries() uint64 { return e.db.QueryCount("notification") }

// summary writes a page compactly, for comparisons with readable diffs:
// "total=3 [title1 title2(read)]".
func summary(p Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "total=%d [", p.Total)
	for i, n := range p.Notifications {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n.Title)
		if n.IsRead {
			b.WriteString("(read)")
		}
	}
	b.WriteByte(']')
	return b.String()
}

func titles(p Page) []string {
	out := make([]string, len(p.Notifications))
	for i, n := range p.Notifications {
		out[i] = n.Title
	}
	return out
}

// provider is a cache provider a scenario runs on.
type provider struct {
	name string
	new  func(t *testing.T) cache.Provider
}

// providers are the in-process memory cache and Redis. Redis is skipped
// with the reason when it does not answer, or fails the test when
// CHECKSTACK_REQUIRE_SERVICES=1. Every scenario on Redis uses users of its
// own (random ids), so that scenarios never share keys.
var providers = []provider{
	{"memory", func(*testing.T) cache.Provider { return cache.NewMemory(cache.MemoryOptions{}) }},
	{"redis", redisProvider},
}

func redisProvider(t *testing.T) cache.Provider {
	t.Helper()
	raw := os.Getenv("CHECKSTACK_TEST_REDIS_URL")
	if raw == "" {
		raw = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("CHECKSTACK_TEST_REDIS_URL: %v", err)
	}
	opts.DialTimeout = time.Second
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close() // the ping error is the one to report
		msg := fmt.Sprintf("Redis at %s unreachable (%v); set CHECKSTACK_TEST_REDIS_URL", opts.Addr, err)
		if os.Getenv("CHECKSTACK_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	p := rediscache.New(c, rediscache.Options{OpTimeout: time.Second})
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close provider: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("close redis client: %v", err)
		}
	})
	return p
}

// eachProvider runs fn on every engine with every cache provider. The
// providers share the engine's database, one after the other: each run
// makes users and groups of its own.
func eachProvider(t *testing.T, fn func(t *testing.T, db *store.DB, p cache.Provider)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, p := range providers {
			t.Run(p.name, func(t *testing.T) {
				fn(t, db, p.new(t))
			})
		}
	})
}

// eventually waits, up to waitFor, until cond holds, failing the test
// with what otherwise.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

// receive waits, up to waitFor, for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		var zero T
		return zero
	}
}

// The webhook receiver.

const testSecret = "0123456789abcdef0123"

// hook is one request a receiver got.
type hook struct {
	delivery  string // X-Checkstack-Delivery
	event     string // X-Checkstack-Event
	signature string // X-Checkstack-Signature
	body      []byte
}

// receiver is a webhook endpoint. answer gives the status of the n-th
// request (from 1); it may block.
type receiver struct {
	*httptest.Server
	got chan hook

	mu     sync.Mutex
	all    []hook
	answer func(n int) int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan hook, 1000), answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h := hook{delivery: r.Header.Get("X-Checkstack-Delivery"), event: r.Header.Get("X-Checkstack-Event"),
			signature: r.Header.Get("X-Checkstack-Signature"), body: body}
		rc.mu.Lock()
		rc.all = append(rc.all, h)
		n := len(rc.all)
		rc.mu.Unlock()
		if r.Method != http.MethodPost {
			t.Errorf("webhook request with method %s, want POST", r.Method)
		}
		rc.got <- h
		w.WriteHeader(rc.answer(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func always(status int) func(int) int { return func(int) int { return status } }

// requests returns every request received so far.
func (rc *receiver) requests() []hook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hook(nil), rc.all...)
}

// fastDelivery are delivery options that retry at once.
var fastDelivery = DeliveryOptions{Poll: 10 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 4}

// configureWebhook enables the webhook channel towards url.
func (e *env) configureWebhook(t *testing.T, url string) {
	t.Helper()
	cfg := fmt.Sprintf(`{"url":%q,"secret":%q}`, url, testSecret)
	if _, err := e.s.ConfigureChannel(t.Context(), ChannelInput{Channel: ChannelWebhook, Enabled: true, Config: []byte(cfg)}); err != nil {
		t.Fatalf("ConfigureChannel: %v", err)
	}
}

func (e *env) optIn(t *testing.T, channel string, users ...string) {
	t.Helper()
	for _, u := range users {
		if err := e.s.SetPreference(t.Context(), u, channel, true); err != nil {
			t.Fatalf("SetPreference(%s, %s): %v", u, channel, err)
		}
	}
}

// deliveries returns the whole delivery log.
func (e *env) deliveries(t *testing.T) []Delivery {
	t.Helper()
	ds, _, err := e.s.Deliveries(t.Context(), DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	return ds
}

// settled waits until no delivery is pending any more and returns the log.
func (e *env) settled(t *testing.T) []Delivery {
	t.Helper()
	var ds []Delivery
	eventually(t, "every delivery to be done", func() bool {
		ds = e.deliveries(t)
		for _, d := range ds {
			if d.Status == StatusPending {
				return false
			}
		}
		return true
	})
	return ds
}

// start runs the service's delivery workers until the test ends. They
// stop before anything created earlier (a receiver) is torn down.
func (e *env) start(t *testing.T) {
	t.Helper()
	e.s.Start(context.Background())
	t.Cleanup(func() { stop(t, e.s) })
}

// stop stops s, failing the test if its sends do not end in time.
func stop(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}
