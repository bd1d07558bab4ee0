package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/loadtest"
)

const loadtestUsage = `Usage: checkstack loadtest --server URL --key K [flags]

Replays what open dashboards do to a server: each simulated user loads
the dashboard, polls it, and refetches what its signal stream announces.
Prints a report when --duration is over or on an interrupt.

Flags:
`

// runLoadtest runs the load tool against a server and prints its report.
func runLoadtest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), loadtestUsage)
		fs.PrintDefaults()
	}
	server := fs.String("server", getenv("CHECKSTACK_LOADTEST_SERVER"), "the server's URL (CHECKSTACK_LOADTEST_SERVER)")
	key := fs.String("key", getenv("CHECKSTACK_LOADTEST_KEY"), "the API key every user sends (CHECKSTACK_LOADTEST_KEY)")
	keysFile := fs.String("keys-file", "", "a file of API keys, one a line, cycled over the users (instead of --key)")
	users := fs.Int("users", 10, "simulated users, each a dashboard with its own connections")
	systems := fs.Int("systems", 50, "systems each bulk read asks for (1 to 1000)")
	duration := fs.Duration("duration", 30*time.Second, "how long the users run")
	poll := fs.Duration("poll", 5*time.Second, "how often each user polls (jittered per user)")
	seed := fs.Bool("seed", false, `first create the systems missing to make --systems ("loadtest-<n>"; needs an admin's key)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	if u, err := url.Parse(*server); *server == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loadtest: --server: must be the server's http:// or https:// URL, not %q", *server)
	}
	keyFlag := false
	fs.Visit(func(f *flag.Flag) { keyFlag = keyFlag || f.Name == "key" })
	var keys []string
	switch {
	case *keysFile != "" && keyFlag:
		return errors.New("loadtest: --key and --keys-file: give one of them")
	case *keysFile != "": // it wins over CHECKSTACK_LOADTEST_KEY
		var err error
		if keys, err = readKeys(*keysFile); err != nil {
			return fmt.Errorf("loadtest: --keys-file: %w", err)
		}
	case *key != "":
		keys = []string{*key}
	default:
		return errors.New("loadtest: --key (or --keys-file) is required")
	}
	switch {
	case *users < 1:
		return fmt.Errorf("loadtest: --users: must be at least 1, not %d", *users)
	case *systems < 1 || *systems > 1000:
		return fmt.Errorf("loadtest: --systems: must be from 1 to 1000, not %d", *systems)
	case *duration <= 0:
		return fmt.Errorf("loadtest: --duration: must be a positive duration such as 30s, not %s", *duration)
	case *poll <= 0:
		return fmt.Errorf("loadtest: --poll: must be a positive duration such as 5s, not %s", *poll)
	}

	rep, err := loadtest.Run(ctx, loadtest.Options{
		Server: *server, Keys: keys,
		Users: *users, Systems: *systems, Duration: *duration, Poll: *poll, Seed: *seed,
		Progress: stderr, Overwrite: isTerminal(stderr),
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(stdout, rep)
	return err
}

// readKeys reads one API key a line, skipping blank lines and # comments.
func readKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k := strings.TrimSpace(sc.Text()); k != "" && !strings.HasPrefix(k, "#") {
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s has no key", path)
	}
	return keys, nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
