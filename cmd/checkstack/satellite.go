package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/checkstack/checkstack/internal/healthcheck"
)

// satellite runs the agent mode: the checks a server assigns to this
// satellite, from inside another network, until ctx ends.
func satellite(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("satellite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serverURL := fs.String("server", getenv("CHECKSTACK_SATELLITE_SERVER"), "the server's URL (CHECKSTACK_SATELLITE_SERVER)")
	key := fs.String("key", getenv("CHECKSTACK_SATELLITE_KEY"), "this satellite's key, from satellite/registerSatellite (CHECKSTACK_SATELLITE_KEY)")
	c, err := parseConfig(fs, args, getenv, "log-level", "log-format")
	if err != nil {
		return err
	}
	if *serverURL == "" || *key == "" {
		return errors.New("satellite: --server and --key are required")
	}
	log := newLogger(c, stderr)
	log.Info("satellite starting", "server", *serverURL)
	return healthcheck.NewAgent(healthcheck.AgentOptions{Server: *serverURL, Key: *key, Logger: log}).Run(ctx)
}
