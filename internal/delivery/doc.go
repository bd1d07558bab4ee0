// Package delivery sends one in-app notification to one user over an
// external channel: a signed JSON webhook, or an email over SMTP.
//
// It does not queue, retry or log. The caller stores each delivery, calls
// Send once per attempt, and decides from the error whether and when to
// try again. Each Send is one attempt, bounded in time.
//
// # Sending
//
// Validate a channel's configuration when the admin saves it, then send
// with it:
//
//	cfg := delivery.WebhookConfig{URL: "https://hooks.example.com/checkstack", Secret: secret}
//	if err := cfg.Validate(); err != nil {
//		return err // an *rpc.Error naming "config.url" or "config.secret"
//	}
//	var webhook delivery.Webhook // the zero value works: 10 s timeout, no redirects
//	err := webhook.Send(ctx, cfg, msg)
//
//	email := delivery.Email{Timeout: 30 * time.Second}
//	err = email.Send(ctx, delivery.EmailConfig{
//		Host:     "smtp.example.com",
//		Username: "status@example.com",
//		Password: password,
//		From:     "Checkstack <status@example.com>",
//	}, "ada@example.com", msg)
//
// Send validates the configuration again, so a bad one is a permanent
// failure rather than a request sent half-formed. A Webhook or an Email
// may be used by many goroutines at once: Send changes nothing in it.
//
// # Errors
//
// Send returns nil when the receiver took the message: a 2xx answer, or an
// SMTP server accepting the DATA. Otherwise:
//
//   - When ctx ends (the caller cancelled it, or its deadline passed), Send
//     returns ctx.Err() as is. The attempt was cut off, not judged.
//   - Every other failure is an *Error. IsPermanent(err) reports that
//     retrying cannot help: a 3xx or 4xx answer other than 408 and 429, an
//     SMTP 5xx reply (a rejected recipient, failed AUTH), a bad config, a
//     message without a DeliveryID, a recipient that is not an address, a
//     missing STARTTLS, a TLS certificate that does not verify.
//   - Anything else (408, 429, 5xx answers, SMTP 4xx replies, refused
//     connections, timeouts) is retryable. RetryAfter(err) is the wait a
//     429 or 503 asked for, capped at an hour; back off at least that long.
//
// A caller's loop looks like:
//
//	err := webhook.Send(ctx, cfg, msg)
//	switch {
//	case err == nil:
//		// delivered
//	case ctx.Err() != nil:
//		// shutting down: leave the delivery pending
//	case delivery.IsPermanent(err):
//		// mark it failed, show err to the admin
//	default:
//		// schedule another attempt, no sooner than delivery.RetryAfter(err)
//	}
//
// Error messages are safe to show an admin: a webhook error names only the
// URL's scheme and host (paths often hold tokens) and quotes at most 512
// bytes of the answer, with control characters removed.
//
// # Verifying a webhook
//
// Each POST carries the header
//
//	X-Checkstack-Signature: t=1735689600,v1=<64 hex digits>
//
// where t is the Unix time it was signed and v1 the hex HMAC-SHA256, keyed
// with the channel's secret, of t, a dot, and the raw request body. A
// receiver checks it before trusting the body, and rejects old timestamps
// so that a captured request cannot be replayed:
//
//	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//	if err != nil {
//		http.Error(w, "cannot read body", http.StatusBadRequest)
//		return
//	}
//	sig := r.Header.Get("X-Checkstack-Signature")
//	if err := delivery.Verify(secret, sig, body, time.Now(), 5*time.Minute); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//	var msg delivery.Message
//	err = json.Unmarshal(body, &msg)
//
// X-Checkstack-Delivery repeats msg.DeliveryID; a receiver that has seen it
// already can answer 2xx and do nothing, since a retry after a lost answer
// sends the same delivery again.
//
// # Email
//
// The message is text/plain in UTF-8, quoted-printable: the Body (Markdown,
// which reads well as text), then the action link as "Label: URL". The
// subject is "[importance] title", RFC 2047-encoded when it is not ASCII.
// No field reaches a header with a line break in it. Security "starttls"
// (the default, on port 587 unless set) fails unless the server offers
// STARTTLS, "tls" connects with TLS from the start (port 465 unless set),
// and "none" never sends a password unless the server is on loopback.
//
// The SMTP client is the standard library's net/smtp, built on a
// connection this package dials, because it leaves that connection's
// deadline alone, so one deadline bounds the whole attempt; go-smtp's
// client resets the deadline before every command.
package delivery
