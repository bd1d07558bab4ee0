package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the binary. Each comes from a flag, else from
// its CHECKSTACK_* environment variable, else from the default shown.
type Config struct {
	Listen          string        // --listen, CHECKSTACK_LISTEN; ":8080"
	Database        string        // --database, CHECKSTACK_DATABASE; "./data/checkstack.db" (a postgres:// URL selects PostgreSQL)
	Redis           string        // --redis, CHECKSTACK_REDIS; "" = in-memory cache and in-process signals
	Cache           string        // --cache, CHECKSTACK_CACHE; "on" (off: every read goes to the database, for diagnosis and comparison)
	LogLevel        string        // --log-level, CHECKSTACK_LOG_LEVEL; "info" (debug|info|warn|error)
	LogFormat       string        // --log-format, CHECKSTACK_LOG_FORMAT; "text" (text|json)
	ShutdownTimeout time.Duration // --shutdown-timeout, CHECKSTACK_SHUTDOWN_TIMEOUT; 15s
	SecureCookies   bool          // --secure-cookies, CHECKSTACK_SECURE_COOKIES; false (set behind HTTPS)
	CheckWorkers    int           // --check-workers, CHECKSTACK_CHECK_WORKERS; 16 checks at once
	RunRetention    time.Duration // --run-retention, CHECKSTACK_RUN_RETENTION; 168h (7 days) of raw check runs
	// NotificationRetention is how long read notifications (and finished
	// deliveries) are kept; --notification-retention,
	// CHECKSTACK_NOTIFICATION_RETENTION; 720h (30 days).
	NotificationRetention time.Duration
	// PublicStatus serves the public status page (/status, its feeds and
	// badges) to anonymous visitors, and lets them read what it shows;
	// --public-status, CHECKSTACK_PUBLIC_STATUS; false.
	PublicStatus bool
	// CheckSchemaOnly makes serve check that the database's schema is
	// this build's and refuse to start if not, instead of migrating it:
	// --migrate=false, CHECKSTACK_MIGRATE=false, for the instances of a
	// fleet whose deploy runs `checkstack migrate` once. Default: migrate.
	CheckSchemaOnly bool
}

// setting binds one Config field to a flag and an environment variable.
type setting struct {
	flag, env, def, usage string
	set                   func(c *Config, v string) error
}

var settings = []setting{
	{"listen", "CHECKSTACK_LISTEN", ":8080", "address to listen on", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"database", "CHECKSTACK_DATABASE", "./data/checkstack.db", "SQLite file path, or a postgres:// URL", func(c *Config, v string) error { c.Database = v; return nil }},
	{"redis", "CHECKSTACK_REDIS", "", "Redis URL for the shared cache and signals (empty: in-memory)", func(c *Config, v string) error { c.Redis = v; return nil }},
	{"cache", "CHECKSTACK_CACHE", "on", "on, or off to serve every read from the database (diagnosis, comparison)", func(c *Config, v string) error {
		if v != "on" && v != "off" {
			return fmt.Errorf("must be on or off, not %q", v)
		}
		c.Cache = v
		return nil
	}},
	{"log-level", "CHECKSTACK_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("must be debug, info, warn or error, not %q", v)
	}},
	{"log-format", "CHECKSTACK_LOG_FORMAT", "text", "text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("must be text or json, not %q", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"shutdown-timeout", "CHECKSTACK_SHUTDOWN_TIMEOUT", "15s", "how long shutdown waits for requests in flight", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("must be a positive duration such as 15s, not %q", v)
		}
		c.ShutdownTimeout = d
		return nil
	}},
	{"check-workers", "CHECKSTACK_CHECK_WORKERS", "16", "how many health checks run at once", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("must be a whole number from 1 to 1024, not %q", v)
		}
		c.CheckWorkers = n
		return nil
	}},
	{"run-retention", "CHECKSTACK_RUN_RETENTION", "168h", "how long raw check runs are kept (1 to 30 days; hourly aggregates stay a year)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 24*time.Hour || d > 30*24*time.Hour {
			return fmt.Errorf("must be a duration from 24h to 720h, not %q", v)
		}
		c.RunRetention = d
		return nil
	}},
	{"notification-retention", "CHECKSTACK_NOTIFICATION_RETENTION", "720h", "how long read notifications and the delivery log are kept (1 to 365 days)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 24*time.Hour || d > 365*24*time.Hour {
			return fmt.Errorf("must be a duration from 24h to 8760h, not %q", v)
		}
		c.NotificationRetention = d
		return nil
	}},
	{"public-status", "CHECKSTACK_PUBLIC_STATUS", "false", "serve the public status page, its feeds and badges to anonymous visitors", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", v)
		}
		c.PublicStatus = b
		return nil
	}},
	{"migrate", "CHECKSTACK_MIGRATE", "true", "migrate the database at start (false: check that its schema is this build's, and refuse to start if not)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", v)
		}
		c.CheckSchemaOnly = !b
		return nil
	}},
	{"secure-cookies", "CHECKSTACK_SECURE_COOKIES", "false", "mark session cookies Secure (serve behind HTTPS)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", v)
		}
		c.SecureCookies = b
		return nil
	}},
}

// parseConfig reads the common settings, plus any extra flags the
// subcommand defines on fs, from args and the environment.
func parseConfig(fs *flag.FlagSet, args []string, getenv func(string) string, only ...string) (Config, error) {
	var c Config
	values := map[string]*string{}
	for _, s := range settings {
		if len(only) > 0 && !contains(only, s.flag) {
			continue
		}
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		values[s.flag] = fs.String(s.flag, v, s.usage+" ("+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range settings {
		p, ok := values[s.flag]
		if !ok {
			continue
		}
		if err := s.set(&c, *p); err != nil {
			return c, fmt.Errorf("--%s: %w", s.flag, err)
		}
	}
	return c, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func newLogger(c Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(orDefault(c.LogLevel, "info")))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

var errUsage = errors.New("usage")
