package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

// TCP checks that a port accepts connections and, optionally, that it
// answers what is sent to it as expected. Its configuration is a TCPConfig.
type TCP struct{}

var _ Strategy = TCP{}

// TCPConfig is the configuration of the tcp strategy, as JSON.
type TCPConfig struct {
	// Host is the host name or IP address to connect to, without a port.
	// Required.
	Host string `json:"host"`
	// Port is the TCP port, 1–65535. Required.
	Port int `json:"port"`
	// Send, when set, is written once connected.
	Send string `json:"send,omitempty"`
	// Expect, when set, must appear in what the server sends (after Send),
	// read until it appears, the server closes, 64 KiB have arrived or the
	// deadline passes. Empty checks only that the connection opens.
	Expect string `json:"expect,omitempty"`
	// DegradedLatencyMs, when above 0, makes a passing run that took longer
	// than this many milliseconds degraded. 0, the default, never does.
	DegradedLatencyMs int `json:"degradedLatencyMs,omitempty"`
}

const maxTCPRead = 64 << 10 // bytes read looking for Expect

// Name returns "tcp".
func (TCP) Name() string { return "tcp" }

// Validate checks a TCPConfig. There are no defaults to fill in.
func (TCP) Validate(config json.RawMessage) (json.RawMessage, error) {
	cfg, err := parseTCPConfig(config)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cfg)
}

func parseTCPConfig(config json.RawMessage) (TCPConfig, error) {
	var cfg TCPConfig
	set, err := decodeConfig(config, fields{
		"host":              &cfg.Host,
		"port":              &cfg.Port,
		"send":              &cfg.Send,
		"expect":            &cfg.Expect,
		"degradedLatencyMs": &cfg.DegradedLatencyMs,
	})
	if err != nil {
		return TCPConfig{}, err
	}
	if err := checkHost("config.host", cfg.Host); err != nil {
		return TCPConfig{}, err
	}
	if !set["port"] {
		return TCPConfig{}, rpc.Invalid("config.port", "required")
	}
	if err := checkPort("config.port", cfg.Port); err != nil {
		return TCPConfig{}, err
	}
	if err := checkDegraded(set, cfg.DegradedLatencyMs); err != nil {
		return TCPConfig{}, err
	}
	return cfg, nil
}

// Run connects, sends and reads as configured. Details: address
// ("host:port") and bytesRead.
func (TCP) Run(ctx context.Context, config json.RawMessage) (res Result) {
	defer recoverPanic(&res, "tcp")
	cfg, err := parseTCPConfig(config)
	if err != nil {
		return invalidConfig(err)
	}
	ctx, cancel, budget := begin(ctx)
	defer cancel()

	start := time.Now()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	details := map[string]any{"address": addr, "bytesRead": 0}
	fail := func(format string, args ...any) Result {
		msg := "tcp " + addr + ": " + fmt.Sprintf(format, args...)
		return Result{Status: Unhealthy, Latency: time.Since(start), Message: msg, Details: details}
	}

	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		if why := stopped(ctx, err, budget); why != "" {
			return fail("%s connecting", why)
		}
		return fail("%s", describeConnError(err))
	}
	// Only reads and writes can fail in ways worth reporting.
	defer func() { _ = conn.Close() }()
	// begin gave ctx a deadline; the connection keeps to it, and a
	// cancelled ctx unblocks a read or write at once.
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline) // fails only on a closed connection, which the next I/O reports
	}
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Unix(1, 0)) // as above
	})
	defer stop()

	did := "connected"
	if cfg.Send != "" {
		if _, err := io.WriteString(conn, cfg.Send); err != nil {
			if why := stopped(ctx, err, budget); why != "" {
				return fail("%s sending", why)
			}
			return fail("sending failed: %s", describeConnError(err))
		}
		did = fmt.Sprintf("connected and sent %d bytes", len(cfg.Send))
	}
	if cfg.Expect == "" {
		return success("tcp "+addr+": "+did, time.Since(start), cfg.DegradedLatencyMs, details)
	}

	want := []byte(cfg.Expect)
	buf := make([]byte, maxTCPRead)
	n := 0
	for {
		m, err := conn.Read(buf[n:])
		n += m
		details["bytesRead"] = n
		if bytes.Contains(buf[:n], want) {
			return success(fmt.Sprintf("tcp %s: got %q", addr, cfg.Expect), time.Since(start), cfg.DegradedLatencyMs, details)
		}
		switch {
		case n == len(buf):
			return fail("read %d bytes without finding %q", n, cfg.Expect)
		case errors.Is(err, io.EOF):
			return fail("the server closed the connection without sending %q; %s", cfg.Expect, received(buf[:n]))
		case err != nil:
			if why := stopped(ctx, err, budget); why != "" {
				return fail("%s waiting for %q; %s", why, cfg.Expect, received(buf[:n]))
			}
			return fail("reading failed after %d bytes: %s", n, describeConnError(err))
		}
	}
}

// received describes what a server sent, for a message.
func received(b []byte) string {
	if len(b) == 0 {
		return "it sent nothing"
	}
	return fmt.Sprintf("it sent %d bytes: %s", len(b), snippet(b, 80))
}
