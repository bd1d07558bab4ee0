package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	parse := func(args []string, getenv func(string) string) (Config, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return parseConfig(fs, args, getenv)
	}

	t.Run("defaults need no set-up", func(t *testing.T) {
		c, err := parse(nil, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		want := Config{Listen: ":8080", Database: "./data/checkstack.db", Cache: "on", LogLevel: "info", LogFormat: "text", ShutdownTimeout: 15 * time.Second,
			CheckWorkers: 16, RunRetention: 7 * 24 * time.Hour, NotificationRetention: 30 * 24 * time.Hour}
		if c != want {
			t.Fatalf("defaults %+v, want %+v", c, want)
		}
	})

	t.Run("the environment overrides defaults and flags override the environment", func(t *testing.T) {
		c, err := parse([]string{"--listen", ":9000"}, env(map[string]string{
			"CHECKSTACK_LISTEN": ":7000", "CHECKSTACK_REDIS": "redis://r:6379/1", "CHECKSTACK_LOG_FORMAT": "json",
			"CHECKSTACK_SHUTDOWN_TIMEOUT": "3s", "CHECKSTACK_SECURE_COOKIES": "true",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != ":9000" || c.Redis != "redis://r:6379/1" || c.LogFormat != "json" || c.ShutdownTimeout != 3*time.Second || !c.SecureCookies {
			t.Fatalf("got %+v", c)
		}
	})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cache", "maybe"}, "--cache: must be on or off"},
		{[]string{"--log-level", "loud"}, "--log-level: must be debug, info, warn or error"},
		{[]string{"--log-format", "xml"}, "--log-format: must be text or json"},
		{[]string{"--shutdown-timeout", "soon"}, "--shutdown-timeout: must be a positive duration"},
		{[]string{"--check-workers", "0"}, "--check-workers: must be a whole number from 1 to 1024"},
		{[]string{"--run-retention", "1h"}, "--run-retention: must be a duration from 24h to 720h"},
		{[]string{"--notification-retention", "12h"}, "--notification-retention: must be a duration from 24h to 8760h"},
		{[]string{"--secure-cookies=maybe"}, "--secure-cookies: must be true or false"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		t.Run("rejects "+strings.Join(tc.args, " "), func(t *testing.T) {
			if _, err := parse(tc.args, noEnv); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	ctx := t.Context()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"bogus"}, noEnv, nil, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "Usage:") {
		t.Fatalf("unknown command: err %v, stderr %q", err, errOut.String())
	}
	db := t.TempDir() + "/nested/dir/c.db"
	if got := cli(t, "", "migrate", "--database", db, "--log-level", "warn"); !strings.Contains(got, "migrations applied") {
		t.Fatalf("migrate printed %q", got)
	}
	out.Reset()
	err := run(ctx, []string{"users", "create", "--database", db, "--email", "a@example.com", "--name", "A"}, noEnv, strings.NewReader("short\n"), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("users create with a short password: %v", err)
	}
	err = run(ctx, []string{"keys", "create", "--database", db, "--email", "nobody@example.com", "--name", "k"}, noEnv, nil, &out, io.Discard)
	if err == nil {
		t.Fatal("keys create for an unknown user succeeded")
	}
	key := newUser(t, db, "a@example.com", false)
	if !strings.HasPrefix(key, "cs_") {
		t.Fatalf("keys create's last line is %q, want the key", key)
	}
}

// --help answers with the usage and succeeds; version says which build
// this is.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"loadtest", "--help"}} {
		err := run(t.Context(), args, noEnv, nil, io.Discard, io.Discard)
		if code := exitCode(err); code != 0 {
			t.Errorf("checkstack %s: exit status %d (%v), want 0", strings.Join(args, " "), code, err)
		}
	}
	if code := exitCode(run(t.Context(), []string{"bogus"}, noEnv, nil, io.Discard, io.Discard)); code != 1 {
		t.Errorf("an unknown command: exit status %d, want 1", code)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, noEnv, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "checkstack ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("version = %q, %v", out.String(), err)
	}
}
