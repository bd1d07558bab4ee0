// Package signal tells dashboards what to refetch.
//
// A signal is a small note — a name and a little JSON such as
// {"systemId":"api"} — sent after a mutation so that clients reload what it
// changed. It is never the data itself: a client that gets one refetches
// through the normal, cached read path. Every mutation runs
//
//	db.write → cache.invalidate (awaited) → signal
//
// so the refetch a signal triggers always sees the write.
//
// # Sending
//
// Domains depend on the Bus interface and call one of its two methods:
//
//	// Everyone's dashboard shows system health: tell every client.
//	err := bus.Broadcast(ctx, "HEALTH_STATUS_CHANGED", map[string]string{"systemId": id})
//
//	// Only this user's clients show their notifications.
//	err := bus.SendToUser(ctx, "NOTIFICATION_RECEIVED", userID, map[string]string{"notificationId": n.ID})
//
// A signal name is non-empty and has no control characters (it becomes the
// SSE "event:" line). The payload is encoded with encoding/json; nil sends
// {}. An error means the signal was not sent; the write it announces has
// already happened, so callers log it and go on — clients poll as well.
//
// # One instance: Hub
//
// Hub is the in-process Bus. It fans every signal out to the subscriptions
// that should see it:
//
//	hub := signal.NewHub(signal.HubOptions{})
//	sub := hub.Subscribe("user-42") // "" for an anonymous client
//	defer sub.Close()
//	for ev := range sub.Events() {
//		fmt.Println(ev.Signal, string(ev.Payload))
//	}
//	if sub.Dropped() {
//		// It fell behind: refetch everything, then subscribe again.
//	}
//
// Browsers subscribe through Handler, which serves GET /api/signals as
// Server-Sent Events. Each signal arrives as
//
//	event: HEALTH_STATUS_CHANGED
//	data: {"signal":"HEALTH_STATUS_CHANGED","payload":{"systemId":"api"}}
//
// The stream opens with "retry: 3000" and the comment ": connected" —
// everything sent after the client has read that line reaches it — and
// carries a ": ping" comment every Heartbeat to keep proxies from closing
// it. A client that fell behind gets a last "event: dropped" (SignalDropped)
// before the stream ends, so that it reconnects and refetches what it may
// have missed.
//
// The handler sets its own deadline before each write, so an http.Server's
// WriteTimeout applies to ordinary requests without cutting long-lived
// streams; a client that stops reading is cut off after
// HubOptions.WriteTimeout instead. On shutdown, close the
// hub before (or as) the server shuts down, so that the streams end and
// Shutdown does not wait for them:
//
//	srv.RegisterOnShutdown(hub.Close)
//
// # Several instances: Redis
//
// With several servers behind a load balancer, a mutation on one must reach
// the clients connected to the others. Redis is a Bus that publishes every
// signal on a Redis pub/sub channel; its Run method, one per instance,
// subscribes to that channel and hands each signal to the local Hub, whose
// Handler serves the browsers:
//
//	hub := signal.NewHub(signal.HubOptions{})
//	bus := signal.NewRedis(client, "checkstack:signals", hub, logger)
//	go func() { errc <- bus.Run(ctx) }() // until ctx ends; reconnects on errors
//	// domains get bus; the HTTP server gets hub.Handler(...)
//
// Every signal goes through Redis, the sender's own instance included, so
// all instances see the signals of one sender in the same order. Redis
// pub/sub has no replay: a signal published while an instance's relay is
// reconnecting does not reach that instance's clients, which catch up at
// their next poll.
//
// # Concurrency invariants
//
// Hub, Subscription and Redis are safe for concurrent use. These hold, and
// each has a test that fails when it is broken:
//
//  1. Sending never waits for a subscriber. Broadcast and SendToUser only
//     offer each event to each subscription's buffer (HubOptions.Buffer
//     events); a subscription whose buffer is full is dropped on the spot:
//     its Events channel is closed and Dropped reports true. A slow or
//     stuck client therefore costs the sender nothing and the other
//     clients nothing, and it learns that it missed signals.
//  2. A user signal reaches only that user's subscriptions — never an
//     anonymous one, never another user's. A broadcast reaches every
//     subscription, anonymous ones included.
//  3. Events reach a subscription in the order they were sent from one
//     goroutine. All deliveries of a hub happen under one lock, so events
//     sent concurrently are also seen in one order, the same for every
//     subscription that gets them.
//  4. Hub.Close ends every subscription (its Events channel is closed, and
//     so every SSE handler returns) and later ones are born closed;
//     Broadcast and SendToUser after Close do nothing and return nil. Close
//     is idempotent, and so is Subscription.Close. The hub starts no
//     goroutines; the only ones that serve it are the HTTP handlers, owned
//     by the server, and each ends when its client goes away or its
//     subscription ends, which Subscribers counts down to zero.
//  5. An SSE client receives, in order, every event sent to it after it
//     read ": connected" (the subscription exists before that line is
//     written), until it disconnects or its subscription ends.
//  6. Redis.Run is the relay's only goroutine, and it is the caller's: it
//     returns once ctx ends, whatever state its connection is in. Between
//     connection errors it waits with backoff and subscribes again; it
//     hands the local hub the signals of one sender in the order they were
//     published.
package signal
