package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/cache/rediscache"
	"github.com/checkstack/checkstack/internal/auth"
	"github.com/checkstack/checkstack/internal/catalog"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/server"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/slo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
)

// serve runs the server until ctx ends, then shuts down: SSE streams are
// closed, requests in flight finish (up to the shutdown timeout), and the
// database and Redis are closed, in the reverse order they were opened.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, err := parseConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)

	db, err := openStore(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer db.Close()

	// The cache and signals: in memory, or shared through Redis.
	var provider cache.Provider = cache.NewMemory(cache.MemoryOptions{})
	hub := signal.NewHub(signal.HubOptions{Logger: log})
	defer hub.Close()
	var bus signal.Bus = hub
	if c.Cache == "off" {
		provider = cache.NewNull()
	}
	if c.Redis != "" {
		opts, err := redis.ParseURL(c.Redis)
		if err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
		// Fail fast: the cache fails open and the provider has its own
		// breaker, so retries would only add latency while Redis is down.
		opts.MaxRetries = -1
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
		client := redis.NewClient(opts)
		defer client.Close()
		rp := rediscache.New(client, rediscache.Options{})
		defer rp.Close()
		if c.Cache == "on" {
			provider = rp
		}
		relay := signal.NewRedis(client, "checkstack:signals", hub, log)
		relayCtx, stopRelay := context.WithCancel(ctx)
		defer stopRelay()
		go func() {
			if err := relay.Run(relayCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("signal relay stopped", "err", err)
			}
		}()
		bus = relay
	}

	authSvc := auth.New(db, log, auth.Options{SecureCookie: c.SecureCookies})
	cat := catalog.New(db, provider, bus, func(ctx context.Context, id string) (string, string, error) {
		u, err := authSvc.GetUser(ctx, id)
		if errors.Is(err, auth.ErrNotFound) {
			return "", "", catalog.ErrNotFound
		}
		return u.Name, u.Email, err
	}, log)
	authSvc.OnUserDeleted(cat.UserDeleted)
	health := healthcheck.New(db, provider, bus, log, healthcheck.Options{RunRetention: c.RunRetention})
	cat.OnSystemDeleted(health.SystemDeleted)
	scheduler := healthcheck.NewScheduler(health, healthcheck.SchedulerOptions{Workers: c.CheckWorkers})

	notifications := notification.New(db, provider, bus, func(ctx context.Context, id string) (notification.User, error) {
		u, err := authSvc.GetUser(ctx, id)
		if errors.Is(err, auth.ErrNotFound) {
			return notification.User{}, notification.ErrNotFound
		}
		return notification.User{Name: u.Name, Email: u.Email}, err
	}, log, notification.Options{
		Retention:    c.NotificationRetention,
		SystemGroups: cat.SystemGroupIDs,
	})
	authSvc.OnUserDeleted(notifications.UserDeleted)
	wireNotificationGroups(cat, notifications, log)
	health.OnStatusChange(func(ctx context.Context, ch healthcheck.StatusChange) {
		if title, body, importance, ok := ch.Notification(systemName(ctx, cat, ch.SystemID)); ok {
			notifySystem(ctx, notifications, log, ch.SystemID, notification.Message{Title: title, Body: body, Importance: notification.Importance(importance)})
		}
	})

	slos := slo.New(db, provider, bus, health, log, slo.Options{
		SystemName: func(ctx context.Context, id string) (string, error) { return systemName(ctx, cat, id), nil },
		OnAlert: func(ctx context.Context, a slo.Alert) {
			title, body, importance := a.Message()
			notifySystem(ctx, notifications, log, a.Objective.SystemID, notification.Message{Title: title, Body: body, Importance: notification.Importance(importance)})
		},
	})
	health.OnStatusChange(slos.SystemStatusChanged)
	health.OnCheckStatusChange(slos.CheckStatusChanged)
	cat.OnSystemDeleted(slos.SystemDeleted)
	if err := syncNotificationGroups(ctx, cat, notifications); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		db.Collector(),
		server.CacheCollector(cat.Scope(), health.Scope(), slos.Scope(), notifications.Scope()),
	)
	// A satellite key (css_…) names a satellite; anything else is a user's
	// credential.
	authenticate := func(r *http.Request) (rpc.Principal, error) {
		if key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.HasPrefix(key, healthcheck.SatelliteKeyPrefix) {
			id, err := health.AuthenticateSatellite(r.Context(), key)
			if err != nil {
				return rpc.Principal{}, err
			}
			return rpc.Principal{SatelliteID: id}, nil
		}
		return authSvc.Authenticate(r)
	}
	handler := server.New(server.Options{
		Logger:       log,
		Authenticate: authenticate,
		Procedures: slices.Concat(authSvc.Procedures(), cat.Procedures(), health.Procedures(), health.SatelliteProcedures(),
			slos.Procedures(), notifications.Procedures()),
		Signals: hub.Handler(func(r *http.Request) (string, bool) {
			p, err := authSvc.Authenticate(r) // signals are for users
			return p.UserID, err == nil
		}),
		Ready:    db.Ping,
		Registry: reg,
	})

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// /api/signals streams for as long as the client stays: the hub
		// moves its write deadline before every write, so this bounds
		// procedures without cutting streams short.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "checkstack: listening on http://%s\n", ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "database", db.Dialect().String(), "redis", c.Redis != "")
	welcome(ctx, log, authSvc, c)

	scheduler.Start(ctx)
	notifications.Start(ctx)
	slos.Start(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down")
	hub.Close() // ends the SSE streams, which would otherwise hold Shutdown
	// First the requests in flight finish, then the background work stops,
	// the three at once, each phase with the whole timeout: a slow one
	// does not eat another's time.
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish in time", "err", err)
		srv.Close()
	}
	wctx, cancelWork := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancelWork()
	var stopping sync.WaitGroup
	for name, stop := range map[string]func(context.Context) error{
		"checks": scheduler.Stop, "slo sweep": slos.Stop, "deliveries": notifications.Stop,
	} {
		stopping.Go(func() {
			if err := stop(wctx); err != nil {
				log.Warn("background work still running at shutdown", "work", name, "err", err)
			}
		})
	}
	stopping.Wait()
	<-served
	log.Info("stopped")
	return nil
}

// welcome tells a new installation how to create its first admin.
func welcome(ctx context.Context, log *slog.Logger, a *auth.Service, c Config) {
	n, err := a.CountUsers(ctx)
	if err != nil || n > 0 {
		return
	}
	log.Info("no users yet; create the first admin with: " +
		`echo 'a-long-password' | checkstack users create --admin --email you@example.com --name "Your Name"` +
		dbFlag(c) + ", then an API key with: checkstack keys create --email you@example.com --name cli" + dbFlag(c))
}

func dbFlag(c Config) string {
	if c.Database == "./data/checkstack.db" {
		return ""
	}
	return " --database " + c.Database
}

// systemName is a system's name for messages, or its id when it cannot be
// read.
func systemName(ctx context.Context, cat *catalog.Service, id string) string {
	sys, err := cat.System(ctx, id)
	if err != nil {
		return id
	}
	return sys.Name
}

func notifySystem(ctx context.Context, n *notification.Service, log *slog.Logger, systemID string, m notification.Message) {
	if _, err := n.NotifySystem(ctx, systemID, m); err != nil {
		log.ErrorContext(ctx, "cannot notify a system's subscribers", "system", systemID, "err", err)
	}
}

// Each catalog system and group has a notification group
// (catalog.system.<id>, catalog.group.<id>) that follows it.
const catalogOwner = "catalog"

func systemGroup(sys catalog.System) notification.Group {
	return notification.Group{ID: notification.SystemGroupID(sys.ID), Name: sys.Name, Description: "Health and SLOs of system " + sys.Name, Owner: catalogOwner}
}

func catalogGroup(g catalog.Group) notification.Group {
	return notification.Group{ID: notification.CatalogGroupID(g.ID), Name: g.Name, Description: "Every system of group " + g.Name, Owner: catalogOwner}
}

func wireNotificationGroups(cat *catalog.Service, n *notification.Service, log *slog.Logger) {
	ensure := func(ctx context.Context, g notification.Group) {
		if err := n.EnsureGroup(ctx, g); err != nil {
			log.ErrorContext(ctx, "cannot save a notification group", "group", g.ID, "err", err)
		}
	}
	remove := func(ctx context.Context, id string) {
		if err := n.RemoveGroup(ctx, id); err != nil {
			log.ErrorContext(ctx, "cannot remove a notification group", "group", id, "err", err)
		}
	}
	cat.OnSystemSaved(func(ctx context.Context, sys catalog.System) { ensure(ctx, systemGroup(sys)) })
	cat.OnSystemDeleted(func(ctx context.Context, id string) { remove(ctx, notification.SystemGroupID(id)) })
	cat.OnGroupSaved(func(ctx context.Context, g catalog.Group) { ensure(ctx, catalogGroup(g)) })
	cat.OnGroupDeleted(func(ctx context.Context, id string) { remove(ctx, notification.CatalogGroupID(id)) })
}

// syncNotificationGroups makes the catalog's notification groups match the
// catalog at start, covering changes made while no server ran hooks.
func syncNotificationGroups(ctx context.Context, cat *catalog.Service, n *notification.Service) error {
	return n.SyncGroups(ctx, catalogOwner, func(ctx context.Context) ([]notification.Group, error) {
		ents, err := cat.Entities(ctx)
		if err != nil {
			return nil, err
		}
		want := make([]notification.Group, 0, len(ents.Systems)+len(ents.Groups))
		for _, sys := range ents.Systems {
			want = append(want, systemGroup(sys))
		}
		for _, g := range ents.Groups {
			want = append(want, catalogGroup(g))
		}
		return want, nil
	})
}
