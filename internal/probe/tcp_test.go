package probe_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/probe"
)

// echoLine answers each line it reads with the same line.
func echoLine(conn net.Conn, _ <-chan struct{}) {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // the client closed
		}
		if _, err := io.WriteString(conn, "echo: "+line); err != nil {
			return
		}
	}
}

// banner greets, then waits for the client to close.
func banner(conn net.Conn, _ <-chan struct{}) {
	if _, err := io.WriteString(conn, "220 mail.probe.test ESMTP ready\r\n"); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, conn) // until the client closes
}

// greetAndHangUp greets and closes the connection at once.
func greetAndHangUp(conn net.Conn, _ <-chan struct{}) {
	_, _ = io.WriteString(conn, "hello") // the client's result is what counts
}

// silent accepts and says nothing until the test ends.
func silent(_ net.Conn, done <-chan struct{}) { <-done }

func TestTCP(t *testing.T) {
	echo := serve(t, listenTCP(t), echoLine)
	greeter := serve(t, listenTCP(t), banner)
	hangUp := serve(t, listenTCP(t), greetAndHangUp)
	quiet := serve(t, listenTCP(t), silent)
	refused := refusedAddr(t)

	tests := []struct {
		name      string
		addr      *net.TCPAddr
		config    map[string]any
		timeout   time.Duration
		status    probe.Status
		parts     []string
		bytesRead int // -1: any
	}{
		{
			name: "a port that accepts is healthy", addr: quiet,
			status: probe.Healthy, parts: []string{"connected in "},
		},
		{
			name: "a reply containing expect is healthy", addr: echo,
			config: map[string]any{"send": "PING\n", "expect": "echo: PING"},
			status: probe.Healthy, parts: []string{`got "echo: PING" in `}, bytesRead: len("echo: PING\n"),
		},
		{
			name: "a banner containing expect is healthy without sending", addr: greeter,
			config: map[string]any{"expect": "ESMTP"},
			status: probe.Healthy, bytesRead: -1,
		},
		{
			name: "sending without expect is healthy once sent", addr: echo,
			config: map[string]any{"send": "PING\n"},
			status: probe.Healthy, parts: []string{"connected and sent 5 bytes"},
		},
		{
			name: "a server that closes without expect is unhealthy and shows what it sent", addr: hangUp,
			config: map[string]any{"expect": "PONG"},
			status: probe.Unhealthy, parts: []string{`closed the connection without sending "PONG"; it sent 5 bytes: "hello"`}, bytesRead: 5,
		},
		{
			name: "a server that never sends expect is cut off at the deadline", addr: greeter,
			config: map[string]any{"expect": "PONG"}, timeout: hangTimeout,
			status: probe.Unhealthy, parts: []string{`timed out after 200ms waiting for "PONG"; it sent 33 bytes: "220 `}, bytesRead: -1,
		},
		{
			name: "a silent server is cut off at the deadline", addr: quiet,
			config: map[string]any{"send": "PING\n", "expect": "PONG"}, timeout: hangTimeout,
			status: probe.Unhealthy, parts: []string{`timed out after 200ms waiting for "PONG"; it sent nothing`},
		},
		{
			name: "a refused connection is unhealthy", addr: refused,
			status: probe.Unhealthy, parts: []string{"tcp " + refused.String() + ": connection refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := map[string]any{"host": "127.0.0.1", "port": tt.addr.Port}
			for k, v := range tt.config {
				config[k] = v
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			res := check(t, probe.TCP{}, config, timeout)
			wantResult(t, res, tt.status, tt.parts...)
			if tt.timeout != 0 {
				wantTimedOut(t, res)
			}
			if got := res.Details["address"]; got != tt.addr.String() {
				t.Errorf("address = %v, want %s", got, tt.addr)
			}
			if got := res.Details["bytesRead"]; tt.bytesRead >= 0 && got != tt.bytesRead {
				t.Errorf("bytesRead = %v, want %d", got, tt.bytesRead)
			}
		})
	}
}

func TestTCPStopsWhenCancelled(t *testing.T) {
	accepted := make(chan struct{}, 1)
	addr := serve(t, listenTCP(t), func(_ net.Conn, done <-chan struct{}) {
		accepted <- struct{}{}
		<-done
	})
	config, err := probe.TCP{}.Validate(fmt.Appendf(nil, `{"host":"127.0.0.1","port":%d,"expect":"PONG"}`, addr.Port))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context()) // no deadline: DefaultTimeout applies
	defer cancel()
	result := make(chan probe.Result, 1)
	go func() { result <- probe.TCP{}.Run(ctx, config) }()

	<-accepted // the run has connected, or is about to return from dialling
	cancel()
	res := <-result
	wantResult(t, res, probe.Unhealthy, "cancelled")
}
