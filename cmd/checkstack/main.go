// Command checkstack is the status and reliability platform: one binary
// that serves the API (serve), applies migrations (migrate), and manages
// users and API keys from the shell (users create, keys create).
//
// Run "checkstack help" for usage. Every setting is a flag or a CHECKSTACK_*
// environment variable; see config.go.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/checkstack/checkstack/internal/auth"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "checkstack:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the process's status after run returned err: 0 for success
// and for a --help answered, 1 otherwise.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// version is this build's version, from its build information: the
// module's version (or "(devel)"), its commit and whether the tree was
// modified, and the Go release.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "checkstack (unknown build)"
	}
	v := "checkstack " + info.Main.Version
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += " commit " + rev[:min(12, len(rev))]
		if settings["vcs.modified"] == "true" {
			v += " (modified)"
		}
	}
	return v + " " + info.GoVersion
}

const usage = `Usage:
  checkstack serve [flags]                          run the server
  checkstack migrate [--database D]                 apply database migrations and exit
  checkstack users create --email E --name N [--admin] [--database D]
                                                    create a user; the password is read from stdin
  checkstack keys create --email E --name N [--database D]
                                                    create an API key for a user; printed once, as the last line
  checkstack satellite --server URL --key K         run as a satellite agent: run the checks the server
                                                    assigns to this satellite and post their results
  checkstack version                                print this build's version
  checkstack loadtest --server URL --key K [--users N] [--systems M] [--duration D] [--poll P] [--seed]
                                                    replay N open dashboards against a server and report
                                                    throughput, latency, errors and its cache hit ratio

Run "checkstack serve --help" for the server's flags, "checkstack loadtest --help" for the load tool's.
`

// run is main without the process: tests call it with their own arguments,
// environment and streams, and cancel ctx to stop a server.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case cmd == "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case cmd == "users" && len(rest) > 0 && rest[0] == "create":
		return createUser(ctx, rest[1:], getenv, stdin, stdout, stderr)
	case cmd == "keys" && len(rest) > 0 && rest[0] == "create":
		return createKey(ctx, rest[1:], getenv, stdout, stderr)
	case cmd == "satellite":
		return satellite(ctx, rest, getenv, stderr)
	case cmd == "loadtest":
		return runLoadtest(ctx, rest, getenv, stdout, stderr)
	case cmd == "version" || cmd == "--version":
		fmt.Fprintln(stdout, version())
		return nil
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", strings.Join(args, " "), usage)
		return errUsage
	}
}

// openStore opens the database named by c and migrates it, or with
// --migrate=false checks that its schema is this build's.
func openStore(ctx context.Context, c Config, stderr io.Writer) (*store.DB, error) {
	log := newLogger(c, stderr)
	db, err := store.Open(ctx, c.Database, log)
	if err != nil {
		return nil, err
	}
	prepare := db.Migrate
	if c.CheckSchemaOnly {
		prepare = db.CheckSchema
	}
	if err := prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, err := parseConfig(fs, args, getenv, "database", "log-level", "log-format")
	if err != nil {
		return err
	}
	db, err := openStore(ctx, c, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return db.Close()
}

func createUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the user's email (required)")
	name := fs.String("name", "", "the user's name (required)")
	admin := fs.Bool("admin", false, "make the user an admin")
	c, err := parseConfig(fs, args, getenv, "database", "log-level", "log-format")
	if err != nil {
		return err
	}
	if *email == "" || *name == "" {
		return errors.New("users create: --email and --name are required")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("users create: read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")

	db, err := openStore(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	role := rpc.RoleUser
	if *admin {
		role = rpc.RoleAdmin
	}
	u, err := auth.New(db, newLogger(c, stderr), auth.Options{}).CreateUser(ctx, *email, *name, password, role)
	if err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
	return nil
}

func createKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the email of the user the key acts as (required)")
	name := fs.String("name", "", "a name for the key (required)")
	c, err := parseConfig(fs, args, getenv, "database", "log-level", "log-format")
	if err != nil {
		return err
	}
	if *email == "" || *name == "" {
		return errors.New("keys create: --email and --name are required")
	}
	db, err := openStore(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := auth.New(db, newLogger(c, stderr), auth.Options{})
	u, err := svc.UserByEmail(ctx, *email)
	if err != nil {
		return fmt.Errorf("keys create: user %s: %w", *email, err)
	}
	secret, _, err := svc.CreateKey(ctx, u.ID, *name)
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	fmt.Fprintf(stdout, "API key for %s (shown once; send it as \"Authorization: Bearer <key>\"):\n%s\n", u.Email, secret)
	return nil
}
