package main

import (
	"context"
	"flag"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestAServerThatCannotListenStopsItsBackgroundWork(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	a := buildApp(t, filepath.Join(t.TempDir(), "c.db"), "--listen", taken.Addr().String())
	var started, stopped atomic.Bool
	a.workers = append(a.workers, worker{"probe",
		func(context.Context) { started.Store(true) },
		func(context.Context) error { stopped.Store(true); return nil }})

	err = a.run(t.Context(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run on a taken address = %v, want the listen error", err)
	}
	if started.Load() && !stopped.Load() {
		t.Fatal("run returned on a listen error and left its background work running")
	}
}

// buildApp builds the app serve would run on database (with extra flags),
// without running it; it is closed when the test ends.
func buildApp(t testing.TB, database string, extra ...string) *app {
	t.Helper()
	args := append([]string{"--database", database, "--log-level", "error"}, extra...)
	c, err := parseConfig(flag.NewFlagSet("serve", flag.ContinueOnError), args, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(context.Background(), c, runtime{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a
}

// serve --migrate=false leaves migrating to `checkstack migrate`: it
// refuses a database whose schema is not this build's, saying what to
// do, and serves one that `checkstack migrate` brought up to date.
func TestServeWithoutMigratingChecksTheSchema(t *testing.T) {
	database := filepath.Join(t.TempDir(), "fleet.db")
	err := run(t.Context(), []string{"serve", "--migrate=false", "--listen", "127.0.0.1:0", "--database", database, "--log-level", "error"},
		noEnv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "checkstack migrate") {
		t.Fatalf("serve --migrate=false on a new database = %v, want a refusal naming checkstack migrate", err)
	}
	cli(t, "", "migrate", "--database", database, "--log-level", "error")
	start(t, database, "--migrate=false") // fails the test unless it listens
}
