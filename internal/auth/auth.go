package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

// Options configures a Service. The zero value is ready to use; each field
// documents its zero value.
type Options struct {
	// SessionTTL is how long a session lasts after login. Zero means 7 days.
	SessionTTL time.Duration
	// CookieName is the session cookie's name. Empty means
	// "checkstack_session".
	CookieName string
	// SecureCookie sets the cookie's Secure attribute; turn it on when the
	// server is reached over HTTPS. False leaves it off.
	SecureCookie bool
	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Login rate limits, per instance (see the package doc): failed logins
	// allowed per account (email) and per client address within
	// FailureWindow. Zero means 5 per account, 20 per address and 15
	// minutes.
	MaxFailuresPerAccount, MaxFailuresPerAddress int
	FailureWindow                                time.Duration

	// Cache holds the credential cache (scope "auth", see the package
	// doc). Nil means none: every request is looked up in the database.
	Cache cache.Provider
}

func (o Options) withDefaults() Options {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 7 * 24 * time.Hour
	}
	if o.CookieName == "" {
		o.CookieName = "checkstack_session"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxFailuresPerAccount <= 0 {
		o.MaxFailuresPerAccount = 5
	}
	if o.MaxFailuresPerAddress <= 0 {
		o.MaxFailuresPerAddress = 20
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = 15 * time.Minute
	}
	return o
}

// User is an account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"` // lower-case
	Name      string    `json:"name"`
	Role      rpc.Role  `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
}

// Principal is the user as a caller.
func (u User) Principal() rpc.Principal {
	return rpc.Principal{UserID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role}
}

// Key is an API key as it is listed: never its secret.
type Key struct {
	ID         string     `json:"id"`
	UserID     string     `json:"userId"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"` // the key's first characters, to recognise it
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"` // nil: never used; updated at most once a minute
	RevokedAt  *time.Time `json:"revokedAt"`  // nil: active
}

var (
	// ErrNotFound: no user, or no key, has that id (or email).
	ErrNotFound = errors.New("auth: not found")
	// ErrEmailTaken: another user has that email.
	ErrEmailTaken = errors.New("auth: email already in use")
	// ErrInvalidCredentials: a bearer key is unknown or revoked. It is an
	// *rpc.Error with status 401, so it maps to its response on its own.
	ErrInvalidCredentials error = rpc.Unauthorized("invalid or revoked API key")
)

const (
	keyPrefix        = "cs_"
	keyDisplayLen    = 8
	lastUsedInterval = time.Minute
)

// Service manages users, sessions and API keys. Create it with New.
type Service struct {
	db      *store.Handle
	logger  *slog.Logger
	opts    Options
	limiter *limiter
	hasher  *hasher
	cache   *cache.Scope
	uses    useRecorder

	hooksMu sync.Mutex
	hooks   []func(ctx context.Context, userID string)
}

// New returns a Service that keeps its tables in db (under the query
// domain "auth"). A nil logger discards.
func New(db *store.DB, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	s := &Service{
		db:      db.For("auth"),
		logger:  logger.With("component", "auth"),
		opts:    opts,
		limiter: newLimiter(opts.FailureWindow, opts.MaxFailuresPerAccount, opts.MaxFailuresPerAddress),
		hasher:  newHasher(defaultParams),
		uses:    useRecorder{known: map[string]time.Time{}},
	}
	s.cache = newScope(opts.Cache, s)
	return s
}

// OnUserDeleted adds fn to the hooks run after a user is deleted (see
// invariant 4 of the package doc). Add hooks while wiring, before serving.
func (s *Service) OnUserDeleted(fn func(ctx context.Context, userID string)) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.hooks = append(s.hooks, fn)
}

// Authenticate returns the caller of r: the user of its bearer API key, or
// else of its session cookie, or else the anonymous principal. A bearer key
// that is unknown or revoked is ErrInvalidCredentials; an unknown or
// expired session cookie is anonymous. Other errors are the database's.
func (s *Service) Authenticate(r *http.Request) (rpc.Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, credentials, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return s.authenticateKey(ctx, strings.TrimSpace(credentials))
		}
	}
	c, err := r.Cookie(s.opts.CookieName)
	if err != nil || c.Value == "" {
		return rpc.Principal{}, nil
	}
	u, err := s.sessionUser(ctx, c.Value)
	if errors.Is(err, ErrNotFound) {
		return rpc.Principal{}, nil
	}
	if err != nil {
		return rpc.Principal{}, err
	}
	return u.Principal(), nil
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// newToken returns 32 random bytes in base64url.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// newID returns a random id.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// secretHash is how a key or session token is stored and looked up.
func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func optionalTime(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := store.FromMicros(*us)
	return &t
}
