package main

import (
	"context"
	"flag"
	"io"
)

// serve runs the server until ctx ends, then shuts down: SSE streams are
// closed, requests in flight finish (up to the shutdown timeout), the
// background work stops, and the database and Redis are closed, in the
// reverse order they were opened.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return serveWith(ctx, runtime{}, args, getenv, stdout, stderr)
}

// serveWith is serve on the clock rt gives (tests drive one).
func serveWith(ctx context.Context, rt runtime, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, err := parseConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	a, err := build(ctx, c, rt, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx, stdout)
}
