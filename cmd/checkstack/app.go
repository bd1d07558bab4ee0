package main

import (
	"context"
	"errors"
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
	"github.com/checkstack/checkstack/internal/announcement"
	"github.com/checkstack/checkstack/internal/anomaly"
	"github.com/checkstack/checkstack/internal/auth"
	"github.com/checkstack/checkstack/internal/catalog"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/incident"
	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/maintenance"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/server"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/slo"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
)

// runtime is what the process lends the app besides its settings: the
// clock. The zero value is the real one; tests drive their own.
type runtime struct {
	// Clock is what every service tells the time by, and what the
	// maintenance windows wait on; nil: loop.Wall.
	Clock loop.Clock
}

func (r runtime) clock() loop.Clock {
	if r.Clock == nil {
		return loop.Wall{}
	}
	return r.Clock
}

// app is the server, built: every service, their hooks and the HTTP
// handler. build makes it, run serves until ctx ends, close releases what
// build opened. No work starts before run.
type app struct {
	cfg Config
	log *slog.Logger

	db       *store.DB
	provider cache.Provider
	hub      *signal.Hub
	bus      signal.Bus
	relay    *signal.Redis // nil without Redis

	auth          *auth.Service
	catalog       *catalog.Service
	health        *healthcheck.Service
	scheduler     *healthcheck.Scheduler
	notifications *notification.Service
	slos          *slo.Service
	incidents     *incident.Service
	maintenance   *maintenance.Service
	announcements *announcement.Service
	anomalies     *anomaly.Service

	handler http.Handler
	workers []worker       // started by run, stopped on every way out of it
	closers []func() error // in the order opened
}

// worker is background work the app starts with run and stops on every
// way out of it.
type worker struct {
	name  string
	start func(ctx context.Context)
	stop  func(ctx context.Context) error
}

// build opens the database (migrating it, or checking its schema), the
// cache and the signal bus, and builds every service with its hooks. On
// error it closes what it opened.
func build(ctx context.Context, c Config, rt runtime, stderr io.Writer) (a *app, err error) {
	a = &app{cfg: c, log: newLogger(c, stderr)}
	opened := a // a itself is nil once an error is returned
	defer func() {
		if err != nil {
			opened.close()
			a = nil
		}
	}()
	if a.db, err = openStore(ctx, c, stderr); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.db.Close)
	if err = a.openCache(); err != nil {
		return nil, err
	}
	a.buildServices(rt)
	a.wireHooks()
	a.workers = a.backgroundWork()
	a.handler = a.buildHandler(rt)
	return a, nil
}

// openCache makes the cache provider and the signal bus: in memory, or
// shared through Redis.
func (a *app) openCache() error {
	c := a.cfg
	a.provider = cache.NewMemory(cache.MemoryOptions{})
	if c.Cache == "off" {
		a.provider = cache.NewNull()
	}
	a.hub = signal.NewHub(signal.HubOptions{Logger: a.log, Public: publicSignal})
	a.closers = append(a.closers, func() error { a.hub.Close(); return nil })
	a.bus = a.hub
	if c.Redis == "" {
		return nil
	}
	opts, err := redis.ParseURL(c.Redis)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	// Fail fast: the cache fails open and the provider has its own
	// breaker, so retries would only add latency while Redis is down.
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	client := redis.NewClient(opts)
	a.closers = append(a.closers, client.Close)
	rp := rediscache.New(client, rediscache.Options{})
	a.closers = append(a.closers, func() error { rp.Close(); return nil })
	if c.Cache == "on" {
		a.provider = rp
	}
	a.relay = signal.NewRedis(client, "checkstack:signals", a.hub, a.log)
	a.bus = a.relay
	return nil
}

// buildServices makes every domain's service. Each takes what it reads
// from the others as a function or an interface of its own; hooks, which
// carry events the other way, are wired in wireHooks.
func (a *app) buildServices(rt runtime) {
	c, log, now := a.cfg, a.log, rt.clock().Now
	a.auth = auth.New(a.db, log, auth.Options{SecureCookie: c.SecureCookies, Cache: a.provider})
	a.closers = append(a.closers, func() error { a.auth.Close(); return nil }) // before the database closes
	a.catalog = catalog.New(a.db, a.provider, a.bus, func(ctx context.Context, id string) (string, string, error) {
		u, err := a.auth.GetUser(ctx, id)
		if errors.Is(err, auth.ErrNotFound) {
			return "", "", catalog.ErrNotFound
		}
		return u.Name, u.Email, err
	}, log)
	a.notifications = notification.New(a.db, a.provider, a.bus, func(ctx context.Context, id string) (notification.User, error) {
		u, err := a.auth.GetUser(ctx, id)
		if errors.Is(err, auth.ErrNotFound) {
			return notification.User{}, notification.ErrNotFound
		}
		return notification.User{Name: u.Name, Email: u.Email}, err
	}, log, notification.Options{
		Retention: c.NotificationRetention,
		SystemGroups: func(ctx context.Context, id string) ([]string, error) {
			ids, err := a.catalog.SystemGroupIDs(ctx, id)
			if errors.Is(err, catalog.ErrNotFound) {
				return nil, notification.ErrNotFound
			}
			return ids, err
		},
		Now: now,
	})
	a.incidents = incident.New(a.db, a.provider, a.bus, log, incident.Options{
		SystemExists: a.systemExists, SystemName: a.systemName, Notifier: a.notifications, Now: now,
		PublicSystems: a.catalog.PublicSystems,
	})
	a.maintenance = maintenance.New(a.db, a.provider, a.bus, log, maintenance.Options{
		Clock: rt.clock(), SystemExists: a.systemExists, SystemName: a.systemName, Notifier: a.notifications,
		PublicSystems: a.catalog.PublicSystems,
	})
	a.health = healthcheck.New(a.db, a.provider, a.bus, log, healthcheck.Options{
		RunRetention: c.RunRetention, UnderMaintenance: a.maintenance.UnderMaintenance, PublicSystems: a.catalog.PublicSystems, Now: now,
	})
	a.scheduler = healthcheck.NewScheduler(a.health, healthcheck.SchedulerOptions{Workers: c.CheckWorkers})
	a.announcements = announcement.New(a.db, a.provider, a.bus, log, announcement.Options{Clock: rt.clock()})
	a.anomalies = anomaly.New(a.db, a.provider, a.bus, log, anomaly.Options{
		Clock: rt.clock(), Health: a.health, Notifier: a.notifications, SystemName: a.systemName, CheckName: a.checkName,
	})
	a.slos = slo.New(a.db, a.provider, a.bus, a.health, log, slo.Options{
		SystemName: func(ctx context.Context, id string) (string, error) { return a.systemName(ctx, id), nil },
		OnAlert: func(ctx context.Context, al slo.Alert) {
			title, body, importance := al.Message()
			a.notifySystem(ctx, al.Objective.SystemID, notification.Message{Title: title, Body: body, Importance: notification.Importance(importance)})
		},
		Maintenance: a.maintenance,
		Now:         now,
	})
}

// repairEvery is how often incidents and maintenance windows are cleaned
// of systems deleted while their hooks could not run.
const repairEvery = 5 * time.Minute

// backgroundWork is the work run starts, in order, and stops together.
func (a *app) backgroundWork() []worker {
	ws := []worker{
		{"checks", a.scheduler.Start, a.scheduler.Stop},
		{"deliveries", a.notifications.Start, a.notifications.Stop},
		{"slo sweep", a.slos.Start, a.slos.Stop},
		{"maintenance clock", a.maintenance.Start, a.maintenance.Stop},
		{"announcement clock", a.announcements.Start, a.announcements.Stop},
		{"anomaly analyzer", a.anomalies.Start, a.anomalies.Stop},
	}
	// Work that grows with the catalog runs beside serving, not before
	// it: start-up to listening does not depend on the data's size.
	var groups loop.Loop
	ws = append(ws, worker{"notification group sync", func(ctx context.Context) {
		groups.Start(ctx, a.syncGroupsUntilDone)
	}, groups.Stop})
	var repair loop.Loop
	ws = append(ws, worker{"deleted-system repair", func(ctx context.Context) {
		repair.Start(ctx, func(ctx context.Context) { loop.Every(ctx, repairEvery, a.repairDeletedSystems) })
	}, repair.Stop})
	if a.relay != nil {
		var relay relayWorker
		ws = append([]worker{{"signal relay", func(ctx context.Context) { relay.start(ctx, a.relay, a.log) }, relay.stop}}, ws...)
	}
	return ws
}

// syncGroupsUntilDone syncs the catalog's notification groups, trying
// again (every syncRetry) until it succeeds or ctx ends.
func (a *app) syncGroupsUntilDone(ctx context.Context) {
	for {
		err := a.syncNotificationGroups(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.log.Error("notification group sync failed; trying again", "err", err, "in", syncRetry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(syncRetry):
		}
	}
}

const syncRetry = 30 * time.Second

// relayWorker runs the Redis signal relay as a worker.
type relayWorker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *relayWorker) start(ctx context.Context, r *signal.Redis, log *slog.Logger) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("signal relay stopped", "err", err)
		}
	}()
}

func (w *relayWorker) stop(ctx context.Context) error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// buildHandler makes the HTTP handler over every service's procedures,
// with the pages over the same procedures.
func (a *app) buildHandler(rt runtime) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		a.db.Collector(),
		server.CacheCollector(a.auth.Scope(), a.catalog.Scope(), a.health.Scope(), a.slos.Scope(), a.notifications.Scope(),
			a.incidents.Scope(), a.maintenance.Scope(), a.announcements.Scope(), a.anomalies.Scope()),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "checkstack_signal_streams",
			Help: "Signal streams (GET /api/signals) this instance serves now."},
			func() float64 { return float64(a.hub.Subscribers()) }),
	)
	// A satellite key (css_…) names a satellite; anything else is a user's
	// credential.
	authenticate := func(r *http.Request) (rpc.Principal, error) {
		if key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.HasPrefix(key, healthcheck.SatelliteKeyPrefix) {
			id, err := a.health.AuthenticateSatellite(r.Context(), key)
			if errors.Is(err, healthcheck.ErrNotFound) {
				return rpc.Principal{}, rpc.Unauthorized("invalid or removed satellite key")
			}
			if err != nil {
				return rpc.Principal{}, err
			}
			return rpc.Principal{SatelliteID: id}, nil
		}
		return a.auth.Authenticate(r)
	}
	procs := slices.Concat(a.auth.Procedures(), a.catalog.Procedures(), a.health.Procedures(), a.health.SatelliteProcedures(),
		a.slos.Procedures(), a.notifications.Procedures(), a.incidents.Procedures(), a.maintenance.Procedures(),
		a.announcements.Procedures(), a.anomalies.Procedures())
	pages := web.New(web.Options{Procedures: procs, Authenticate: a.auth.Authenticate, PublicStatus: a.cfg.PublicStatus,
		Signals: a.hub, Logger: a.log, Now: rt.clock().Now})
	return server.New(server.Options{
		Logger:       a.log,
		Authenticate: authenticate,
		Procedures:   procs,
		Pages:        pages,
		Signals: a.hub.ListenerHandler(func(r *http.Request) (signal.Listener, error) {
			p, err := a.auth.Authenticate(r) // signals are for users, and the public status page's visitors
			var refused *rpc.Error
			switch {
			case errors.As(err, &refused):
				return signal.Listener{}, signal.ErrUnauthorized
			case err != nil:
				return signal.Listener{}, err
			case p.SignedIn():
				return signal.Listener{UserID: p.UserID}, nil
			case a.cfg.PublicStatus:
				return signal.Listener{Public: true}, nil
			default:
				return signal.Listener{}, signal.ErrUnauthorized
			}
		}),
		Ready:        a.db.Ping,
		Registry:     reg,
		PublicStatus: a.cfg.PublicStatus,
	})
}

// publicSignal names the broadcasts the public status page refreshes on;
// its visitors get them without payload.
func publicSignal(name string) bool {
	switch name {
	case catalog.SignalChanged, healthcheck.SignalSystemStatusChanged, incident.SignalUpdated, maintenance.SignalUpdated,
		announcement.SignalUpdated:
		return true
	}
	return false
}

// run serves until ctx ends or the server fails, then shuts down: SSE
// streams close, requests in flight finish (up to the shutdown timeout),
// then every worker stops, all at once, with the timeout again. The
// workers stop on every way out, an early server error included.
func (a *app) run(ctx context.Context, stdout io.Writer) error {
	for _, w := range a.workers {
		w.start(ctx)
	}
	defer a.stopWorkers()

	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// /api/signals streams for as long as the client stays: the hub
		// moves its write deadline before every write, so this bounds
		// procedures without cutting streams short.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "checkstack: listening on http://%s\n", ln.Addr())
	a.log.Info("listening", "addr", ln.Addr().String(), "database", a.db.Dialect().String(), "redis", a.cfg.Redis != "")
	a.welcome(ctx)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	a.log.Info("shutting down")
	a.hub.Close() // ends the SSE streams, which would otherwise hold Shutdown
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Warn("shutdown did not finish in time", "err", err)
		srv.Close()
	}
	<-served
	return nil
}

// stopWorkers stops the workers together, each with the whole shutdown
// timeout: a slow one does not eat another's time.
func (a *app) stopWorkers() {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	var stopping sync.WaitGroup
	for _, w := range a.workers {
		stopping.Go(func() {
			if err := w.stop(ctx); err != nil {
				a.log.Warn("background work still running at shutdown", "work", w.name, "err", err)
			}
		})
	}
	stopping.Wait()
	a.log.Info("stopped")
}

// close releases what build opened, in reverse order.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("close failed", "err", err)
		}
	}
	a.closers = nil
}

// welcome tells a new installation how to create its first admin.
func (a *app) welcome(ctx context.Context) {
	n, err := a.auth.CountUsers(ctx)
	if err != nil || n > 0 {
		return
	}
	a.log.Info("no users yet; create the first admin with: " +
		`echo 'a-long-password' | checkstack users create --admin --email you@example.com --name "Your Name"` +
		dbFlag(a.cfg) + ", then an API key with: checkstack keys create --email you@example.com --name cli" + dbFlag(a.cfg))
}

func dbFlag(c Config) string {
	if c.Database == "./data/checkstack.db" {
		return ""
	}
	return " --database " + c.Database
}
