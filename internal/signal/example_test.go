package signal_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/checkstack/checkstack/internal/signal"
)

func ExampleHub() {
	ctx := context.Background()
	hub := signal.NewHub(signal.HubOptions{})
	defer hub.Close()

	alice := hub.Subscribe("alice")
	defer alice.Close()
	anonymous := hub.Subscribe("")
	defer anonymous.Close()

	_ = hub.SendToUser(ctx, "NOTIFICATION_RECEIVED", "alice", map[string]string{"notificationId": "n1"}) // cannot fail: valid name and payload
	_ = hub.Broadcast(ctx, "SYSTEM_UPDATED", map[string]string{"systemId": "api"})                       // likewise

	for range 2 {
		ev := <-alice.Events()
		fmt.Println("alice:", ev.Signal, string(ev.Payload))
	}
	ev := <-anonymous.Events()
	fmt.Println("anonymous:", ev.Signal, string(ev.Payload))
	// Output:
	// alice: NOTIFICATION_RECEIVED {"notificationId":"n1"}
	// alice: SYSTEM_UPDATED {"systemId":"api"}
	// anonymous: SYSTEM_UPDATED {"systemId":"api"}
}

func ExampleHub_Handler() {
	hub := signal.NewHub(signal.HubOptions{Logger: slog.Default()})

	// The caller's identity comes from the auth layer; here, a header.
	userID := func(r *http.Request) (string, bool) {
		return r.Header.Get("X-User"), true
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/signals", hub.Handler(userID))

	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux}
	// End the streams when the server shuts down, or Shutdown waits for
	// them.
	srv.RegisterOnShutdown(hub.Close)
}
