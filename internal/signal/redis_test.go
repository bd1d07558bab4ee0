package signal_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/checkstack/checkstack/internal/signal"
)

const defaultRedisURL = "redis://127.0.0.1:6379/0"

var (
	reachOnce sync.Once
	reachErr  error
)

// redisOptions returns client options for the test Redis, built from
// CHECKSTACK_TEST_REDIS_URL. It skips the test when Redis is unreachable,
// or fails it when CHECKSTACK_REQUIRE_SERVICES=1.
func redisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	url := os.Getenv("CHECKSTACK_TEST_REDIS_URL")
	if url == "" {
		url = defaultRedisURL
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("CHECKSTACK_TEST_REDIS_URL=%q: %v", url, err)
	}
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second

	reachOnce.Do(func() {
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		reachErr = c.Ping(ctx).Err()
	})
	if reachErr != nil {
		msg := "redis at " + url + " is unreachable (" + reachErr.Error() + "); set CHECKSTACK_TEST_REDIS_URL to run the Redis signal tests"
		if os.Getenv("CHECKSTACK_REQUIRE_SERVICES") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return opt
}

// newRedisClient returns a client on the test Redis whose connections are
// named name, closed when the test ends.
func newRedisClient(tb testing.TB, name string) *redis.Client {
	tb.Helper()
	opt := redisOptions(tb)
	opt.ClientName = name
	c := redis.NewClient(opt)
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close redis client: %v", err)
		}
	})
	return c
}

// unique returns prefix followed by random hex, for channel and client
// names no other test uses.
func unique(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b[:])
}

// instance is one server instance: a hub, and a Redis bus relaying into it.
type instance struct {
	hub        *signal.Hub
	bus        *signal.Redis
	client     *redis.Client
	subscribed chan struct{} // gets a value each time the relay subscribes
}

// startInstance starts an instance on channel, and waits until its relay
// is subscribed. Its relay stops, and Run is checked to have returned,
// when the test ends.
func startInstance(t testing.TB, channel string, configure ...func(*signal.Redis)) *instance {
	t.Helper()
	in := &instance{
		hub:        signal.NewHub(signal.HubOptions{Buffer: 1024}),
		client:     newRedisClient(t, unique("signaltest-")),
		subscribed: make(chan struct{}, 16),
	}
	in.bus = signal.NewRedis(in.client, channel, in.hub, nil)
	for _, f := range configure {
		f(in.bus)
	}
	signal.SetOnSubscribed(in.bus, func() {
		select {
		case in.subscribed <- struct{}{}:
		default: // nobody is counting this many
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // owned by the test: cancelled and waited for in Cleanup
		defer close(done)
		if err := in.bus.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wait(t, "the relay to stop", done)
		in.hub.Close()
	})
	in.waitSubscribed(t)
	return in
}

func (in *instance) waitSubscribed(t testing.TB) {
	t.Helper()
	select {
	case <-in.subscribed:
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for the relay to subscribe")
	}
}

func (in *instance) subscribe(t testing.TB, userID string) *signal.Subscription {
	t.Helper()
	s := in.hub.Subscribe(userID)
	t.Cleanup(s.Close)
	return s
}

func TestRedisBroadcastReachesEveryInstance(t *testing.T) {
	ctx := context.Background()
	channel := unique("signaltest:")
	a, b := startInstance(t, channel), startInstance(t, channel)
	onA, onB := a.subscribe(t, ""), b.subscribe(t, "alice")

	must(t, a.bus.Broadcast(ctx, "SYSTEM_UPDATED", map[string]string{"systemId": "api"}))

	for name, sub := range map[string]*signal.Subscription{"another instance": onB, "the sender's instance": onA} {
		t.Run("it reaches "+name, func(t *testing.T) {
			ev := recv(t, sub)
			if ev.Signal != "SYSTEM_UPDATED" || string(ev.Payload) != `{"systemId":"api"}` || ev.UserID != "" {
				t.Errorf("got %+v", ev)
			}
		})
	}
}

func TestRedisSendToUserReachesOnlyThatUser(t *testing.T) {
	ctx := context.Background()
	channel := unique("signaltest:")
	a, b := startInstance(t, channel), startInstance(t, channel)
	subs := map[string]*signal.Subscription{
		"alice on A":     a.subscribe(t, "alice"),
		"alice on B":     b.subscribe(t, "alice"),
		"bob on B":       b.subscribe(t, "bob"),
		"anonymous on B": b.subscribe(t, ""),
		"anonymous on A": a.subscribe(t, ""),
	}

	must(t, b.bus.SendToUser(ctx, "FOR_ALICE", "alice", map[string]int{"unread": 3}))
	must(t, a.bus.SendToUser(ctx, "FOR_BOB", "bob", nil))
	must(t, a.bus.Broadcast(ctx, "FENCE", nil)) // after both, from the same sender as the last

	want := map[string][]string{
		"alice on A":     {"FOR_ALICE"},
		"alice on B":     {"FOR_ALICE"},
		"bob on B":       {"FOR_BOB"},
		"anonymous on B": nil,
		"anonymous on A": nil,
	}
	for name, sub := range subs {
		t.Run(name+" gets exactly its signals", func(t *testing.T) {
			if got := signalsUntil(t, sub, "FENCE"); !slices.Equal(got, want[name]) {
				t.Errorf("got %v, want %v", got, want[name])
			}
		})
	}
}

// Invariant 6: one sender's signals are relayed in order.
func TestRedisRelaysInOrder(t *testing.T) {
	ctx := context.Background()
	channel := unique("signaltest:")
	a, b := startInstance(t, channel), startInstance(t, channel)
	sub := b.subscribe(t, "alice")

	const n = 300
	for i := range n {
		if i%2 == 0 {
			must(t, a.bus.SendToUser(ctx, "S"+strconv.Itoa(i), "alice", nil))
		} else {
			must(t, a.bus.Broadcast(ctx, "S"+strconv.Itoa(i), nil))
		}
	}
	for i := range n {
		if ev := recv(t, sub); ev.Signal != "S"+strconv.Itoa(i) {
			t.Fatalf("event %d is %s", i, ev.Signal)
		}
	}
}

// Invariant 6: the relay subscribes again after losing its connection.
func TestRedisRelayReconnects(t *testing.T) {
	ctx := context.Background()
	channel := unique("signaltest:")
	a, b := startInstance(t, channel), startInstance(t, channel)
	sub := b.subscribe(t, "")

	admin := newRedisClient(t, unique("signaltest-admin-"))
	killClients(t, admin, b.client.Options().ClientName)
	b.waitSubscribed(t)

	must(t, a.bus.Broadcast(ctx, "AFTER_RECONNECT", nil))
	if ev := recv(t, sub); ev.Signal != "AFTER_RECONNECT" {
		t.Errorf("got %s", ev.Signal)
	}
}

// Invariant 6: a quiet relay checks its connection, and keeps relaying.
func TestRedisRelayPingsWhenIdle(t *testing.T) {
	ctx := context.Background()
	channel := unique("signaltest:")
	a := startInstance(t, channel)
	b := startInstance(t, channel, func(r *signal.Redis) { signal.SetPingInterval(r, 5*time.Millisecond) })
	sub := b.subscribe(t, "")

	admin := newRedisClient(t, unique("signaltest-admin-"))
	name := b.client.Options().ClientName
	waitFor(t, "the idle relay to PING", func() bool {
		return slices.ContainsFunc(clientList(t, admin), func(c map[string]string) bool {
			return c["name"] == name && c["cmd"] == "ping"
		})
	})

	must(t, a.bus.Broadcast(ctx, "AFTER_PINGS", nil))
	if ev := recv(t, sub); ev.Signal != "AFTER_PINGS" {
		t.Errorf("got %s", ev.Signal)
	}
	if n := len(b.subscribed); n != 0 {
		t.Errorf("the relay subscribed %d more times: the pings broke its connection", n)
	}
}

// clientList returns Redis's CLIENT LIST, one map of fields per connection.
func clientList(t testing.TB, admin *redis.Client) []map[string]string {
	t.Helper()
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var clients []map[string]string
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		fields := map[string]string{}
		for field := range strings.FieldsSeq(sc.Text()) {
			k, v, _ := strings.Cut(field, "=")
			fields[k] = v
		}
		clients = append(clients, fields)
	}
	return clients
}

// killClients closes, on the server side, every connection named name.
func killClients(t testing.TB, admin *redis.Client, name string) {
	t.Helper()
	killed := 0
	for _, c := range clientList(t, admin) {
		if c["name"] != name {
			continue
		}
		if err := admin.Do(context.Background(), "CLIENT", "KILL", "ID", c["id"]).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", c["id"], err)
		}
		killed++
	}
	if killed == 0 {
		t.Fatalf("no connection named %s to kill", name)
	}
}

func TestRedisRelaySkipsMalformedMessages(t *testing.T) {
	ctx := context.Background()
	channel := unique("signaltest:")
	in := startInstance(t, channel)
	sub := in.subscribe(t, "")

	for _, msg := range []string{
		`not json`,
		`{"signal":"","payload":{}}`,
		`{"signal":"BAD\nNAME","payload":{}}`,
		`["signal"]`,
	} {
		must(t, in.client.Publish(ctx, channel, msg).Err())
	}
	must(t, in.client.Publish(ctx, channel, `{"signal":"NO_PAYLOAD"}`).Err())
	must(t, in.bus.Broadcast(ctx, "VALID", nil))

	if ev := recv(t, sub); ev.Signal != "NO_PAYLOAD" || string(ev.Payload) != "{}" {
		t.Errorf("got %+v, want NO_PAYLOAD with payload {}", ev)
	}
	if ev := recv(t, sub); ev.Signal != "VALID" {
		t.Errorf("got %s, want VALID: the malformed messages should have been skipped", ev.Signal)
	}
}

func TestRedisRejectsBadSignalsWithoutPublishing(t *testing.T) {
	ctx := context.Background()
	channel := unique("signaltest:")
	in := startInstance(t, channel)
	sub := in.subscribe(t, "")

	if err := in.bus.Broadcast(ctx, "", nil); !errors.Is(err, signal.ErrInvalidSignal) {
		t.Errorf("Broadcast with no name: %v, want ErrInvalidSignal", err)
	}
	if err := in.bus.SendToUser(ctx, "A", "", nil); !errors.Is(err, signal.ErrNoUser) {
		t.Errorf("SendToUser with no user: %v, want ErrNoUser", err)
	}
	must(t, in.bus.Broadcast(ctx, "FENCE", nil))
	if got := signalsUntil(t, sub, "FENCE"); len(got) != 0 {
		t.Errorf("published %v anyway", got)
	}
}

// unreachableClient returns a client for a port nothing listens on.
func unreachableClient(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:        "127.0.0.1:1",
		MaxRetries:  -1,
		DialTimeout: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() }) // nothing was ever connected
	return c
}

func TestRedisPublishFailureIsReturned(t *testing.T) {
	bus := signal.NewRedis(unreachableClient(t), "signaltest", signal.NewHub(signal.HubOptions{}), nil)
	if err := bus.Broadcast(context.Background(), "A", nil); err == nil || !strings.Contains(err.Error(), "publish") {
		t.Errorf("Broadcast with Redis down: %v, want a publish error", err)
	}
}

// Invariant 6: Run returns once ctx ends, even while Redis is down.
func TestRedisRunStopsWhenContextEnds(t *testing.T) {
	var attempts atomic.Int64
	client := unreachableClient(t)
	client.AddHook(dialCounter{&attempts})
	bus := signal.NewRedis(client, "signaltest", signal.NewHub(signal.HubOptions{}), nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { // owned by this test, which waits for it
		defer close(done)
		runErr = bus.Run(ctx)
	}()
	waitFor(t, "the relay to try Redis", func() bool { return attempts.Load() >= 1 })
	cancel()
	wait(t, "Run to return", done)
	if runErr != nil {
		t.Errorf("Run returned %v, want nil after ctx ended", runErr)
	}
}

func TestRedisRunNeedsAChannel(t *testing.T) {
	bus := signal.NewRedis(unreachableClient(t), "", signal.NewHub(signal.HubOptions{}), nil)
	if err := bus.Run(context.Background()); err == nil {
		t.Error("Run with no channel returned nil")
	}
}

// dialCounter counts the client's dial attempts.
type dialCounter struct{ n *atomic.Int64 }

func (d dialCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (netConn net.Conn, err error) {
		d.n.Add(1)
		return next(ctx, network, addr)
	}
}
func (d dialCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (d dialCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
