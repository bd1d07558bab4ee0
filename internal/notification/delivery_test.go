package notification

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/delivery"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// deliveryOf returns the one delivery of notification id, failing the test
// if there is not exactly one.
func deliveryOf(t *testing.T, ds []Delivery, id string) Delivery {
	t.Helper()
	var out []Delivery
	for _, d := range ds {
		if d.NotificationID == id {
			out = append(out, d)
		}
	}
	if len(out) != 1 {
		t.Fatalf("notification %s has %d deliveries, want 1: %+v", id, len(out), ds)
	}
	return out[0]
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAWebhookDeliveryIsSignedAndLogged(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		us := e.users(t, 2)
		a, b := us[0], us[1] // only a opts in
		rc := newReceiver(t, always(200))
		e.configureWebhook(t, rc.URL)
		e.optIn(t, ChannelWebhook, a.ID)
		e.start(t)

		ns, err := e.s.NotifyUsers(t.Context(), []string{a.ID, b.ID}, Message{Title: "Disk almost full", Body: "92%", Importance: Warning,
			Action: &Action{Label: "Open", URL: "https://status.example.com/x"}})
		if err != nil {
			t.Fatal(err)
		}
		var mine Notification
		for _, n := range ns {
			if n.UserID == a.ID {
				mine = n
			}
		}
		if _, total, _ := e.s.Deliveries(t.Context(), DeliveryFilter{Limit: 10}); total != 1 {
			t.Fatalf("NotifyUsers enqueued %d deliveries, want 1: only a opted in", total)
		}

		h := receive(t, rc.got, "the webhook request")
		if err := delivery.Verify(testSecret, h.signature, h.body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("signature %q does not verify: %v", h.signature, err)
		}
		if h.event != "notification" {
			t.Errorf("X-Checkstack-Event = %q", h.event)
		}
		var m delivery.Message
		if err := json.Unmarshal(h.body, &m); err != nil {
			t.Fatalf("body %s: %v", h.body, err)
		}
		if m.NotificationID != mine.ID || m.UserID != a.ID || m.UserEmail != a.Email || m.UserName != a.Name ||
			m.Title != "Disk almost full" || m.Body != "92%" || m.Importance != "warning" ||
			m.ActionURL != "https://status.example.com/x" || m.DeliveryID != h.delivery || !m.CreatedAt.Equal(mine.CreatedAt) {
			t.Errorf("body = %+v, want a's notification %+v with delivery id %s", m, mine, h.delivery)
		}

		d := deliveryOf(t, e.settled(t), mine.ID)
		if d.ID != h.delivery || d.Status != StatusDelivered || d.Attempts != 1 || d.LastError != "" ||
			d.UserID != a.ID || d.Channel != ChannelWebhook || d.Title != "Disk almost full" {
			t.Errorf("delivery log entry %+v, want %s delivered on attempt 1", d, h.delivery)
		}
		if got := rc.requests(); len(got) != 1 {
			t.Errorf("the receiver got %d requests, want 1", len(got))
		}
		if p := e.page(t, a.ID, defaultFilter); p.Total != 1 || p.Notifications[0].ID != mine.ID {
			t.Errorf("a's inbox = %s", summary(p))
		}
	})
}

func TestWebhookDeliveriesRetryUntilTheyCanSucceedOrFail(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		a := e.users(t, 1)[0].ID
		e.optIn(t, ChannelWebhook, a)
		e.start(t)

		down := httptest.NewServer(nil)
		downURL := down.URL
		down.Close()

		tests := []struct {
			name     string
			answer   func(n int) int // nil: the receiver is down
			status   string
			attempts int
			lastErr  string
		}{
			{
				name: "a receiver failing twice with 500 then answering 200 is delivered on the third attempt",
				answer: func(n int) int {
					if n <= 2 {
						return 500
					}
					return 200
				},
				status: StatusDelivered, attempts: 3,
			},
			{
				name:   "a 400 fails at once, for good",
				answer: always(400), status: StatusFailed, attempts: 1, lastErr: "status 400",
			},
			{
				name:   "a receiver answering 500 every time fails after MaxAttempts",
				answer: always(500), status: StatusFailed, attempts: fastDelivery.MaxAttempts, lastErr: "status 500",
			},
			{
				name:   "a receiver that is down fails after MaxAttempts",
				status: StatusFailed, attempts: fastDelivery.MaxAttempts, lastErr: "POST http://127.0.0.1",
			},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				url := downURL
				var rc *receiver
				if tt.answer != nil {
					rc = newReceiver(t, tt.answer)
					url = rc.URL
				}
				e.configureWebhook(t, url)
				n := e.notify(t, fmt.Sprintf("case %d", i), a)[0]

				d := deliveryOf(t, e.settled(t), n.ID)
				if d.Status != tt.status || d.Attempts != tt.attempts {
					t.Errorf("delivery %s after %d attempts (%q), want %s after %d", d.Status, d.Attempts, d.LastError, tt.status, tt.attempts)
				}
				if !strings.Contains(d.LastError, tt.lastErr) {
					t.Errorf("last error %q does not contain %q", d.LastError, tt.lastErr)
				}
				if rc != nil {
					if got := len(rc.requests()); got != tt.attempts {
						t.Errorf("the receiver got %d requests, want %d", got, tt.attempts)
					}
				}
				// The inbox does not depend on the delivery.
				p := e.truePage(t, a, Filter{Limit: 1})
				if p.Notifications[0].ID != n.ID || p.Notifications[0].IsRead {
					t.Errorf("inbox after the delivery ended = %s, want %s unread on top", summary(p), n.Title)
				}
			})
		}
	})
}

func TestNotifyUsersDoesNotWaitForDelivery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		a := e.users(t, 1)[0].ID
		release := make(chan struct{})
		rc := newReceiver(t, func(int) int {
			<-release
			return 200
		})
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		e.configureWebhook(t, rc.URL)
		e.optIn(t, ChannelWebhook, a)
		e.start(t)

		// The receiver answers only once the test releases it, after
		// NotifyUsers returned: a NotifyUsers that waited for the delivery
		// would never return.
		type result struct {
			ns  []Notification
			err error
		}
		done := make(chan result, 1)
		go func() {
			ns, err := e.s.NotifyUsers(t.Context(), []string{a}, Message{Title: "slow receiver"})
			done <- result{ns, err}
		}()
		r := receive(t, done, "NotifyUsers to return while the receiver holds the delivery")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if p := e.page(t, a, defaultFilter); p.Total != 1 || p.Notifications[0].ID != r.ns[0].ID {
			t.Fatalf("inbox right after NotifyUsers = %s, want the notification", summary(p))
		}
		receive(t, rc.got, "the delivery to reach the receiver")
		if d := deliveryOf(t, e.deliveries(t), r.ns[0].ID); d.Status != StatusPending || d.Attempts != 0 {
			t.Errorf("delivery while the receiver holds it: %+v, want pending with no attempt recorded", d)
		}
		close(release)
		if d := deliveryOf(t, e.settled(t), r.ns[0].ID); d.Status != StatusDelivered || d.Attempts != 1 {
			t.Errorf("delivery after the receiver answered: %+v, want delivered on attempt 1", d)
		}
	})
}

func TestStopGivesAnInterruptedDeliveryBackForAnotherInstance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		a := e.users(t, 1)[0].ID
		release := make(chan struct{})
		rc := newReceiver(t, func(n int) int {
			if n == 1 {
				<-release // the first attempt hangs until the test ends
			}
			return 200
		})
		t.Cleanup(func() { close(release) })
		e.configureWebhook(t, rc.URL)
		e.optIn(t, ChannelWebhook, a)
		e.start(t)
		n := e.notify(t, "interrupted", a)[0]
		first := receive(t, rc.got, "the first attempt")

		stop(t, e.s) // cancels the send under way
		d := deliveryOf(t, e.deliveries(t), n.ID)
		if d.Status != StatusPending || d.Attempts != 0 {
			t.Fatalf("delivery after Stop interrupted it: %+v, want pending and untried", d)
		}

		other := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		other.start(t)
		second := receive(t, rc.got, "the retry by another instance")
		if second.delivery != first.delivery {
			t.Errorf("the retry sent delivery %s, want %s", second.delivery, first.delivery)
		}
		if d := deliveryOf(t, other.settled(t), n.ID); d.Status != StatusDelivered || d.Attempts != 1 {
			t.Errorf("delivery after the retry: %+v, want delivered, with one attempt counted", d)
		}
	})
}

func TestDeliveriesFollowOptInAndTheChannelState(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		us := ids(e.users(t, 2))
		in, later := us[0], us[1]
		rc := newReceiver(t, always(200))
		e.configureWebhook(t, rc.URL)
		e.optIn(t, ChannelWebhook, in, later)
		if err := e.s.SetPreference(t.Context(), later, ChannelWebhook, false); err != nil {
			t.Fatal(err)
		}

		ps, err := e.s.Preferences(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		want := []Preference{{Channel: ChannelWebhook, Available: true, Enabled: true}, {Channel: ChannelEmail, Available: false, Enabled: false}}
		if fmt.Sprint(ps) != fmt.Sprint(want) {
			t.Errorf("Preferences = %+v, want %+v", ps, want)
		}
		if err := e.s.SetPreference(t.Context(), in, "sms", true); err == nil {
			t.Error("SetPreference to an unknown channel succeeded")
		}

		ns := e.notify(t, "queued", us...)
		ds := e.deliveries(t)
		if len(ds) != 1 || ds[0].UserID != in || ds[0].Status != StatusPending {
			t.Fatalf("deliveries %+v, want one pending for the user who opted in (none for one who opted out)", ds)
		}
		// The admin turns the channel off before the workers run.
		if _, err := e.s.ConfigureChannel(t.Context(), ChannelInput{Channel: ChannelWebhook, Enabled: false,
			Config: fmt.Appendf(nil, `{"url":%q,"secret":%q}`, rc.URL, testSecret)}); err != nil {
			t.Fatal(err)
		}
		e.start(t)
		var d Delivery
		for _, n := range ns {
			if n.UserID == in {
				d = deliveryOf(t, e.settled(t), n.ID)
			}
		}
		if d.Status != StatusSkipped || d.Attempts != 0 || !strings.Contains(d.LastError, "not enabled") {
			t.Errorf("delivery on a channel disabled after enqueue: %+v, want skipped, untried", d)
		}
		if got := rc.requests(); len(got) != 0 {
			t.Errorf("the receiver got %d requests from a disabled channel", len(got))
		}
		if e.notify(t, "while off", in); len(e.deliveries(t)) != 1 {
			t.Errorf("a notification on a disabled channel was queued for delivery")
		}
	})
}

func TestConfigureChannelRefusesABadConfigAndStoresNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		ctx := t.Context()
		good := fmt.Sprintf(`{"url":"https://hooks.example.com/x","secret":%q}`, testSecret)
		if _, err := e.s.ConfigureChannel(ctx, ChannelInput{Channel: ChannelWebhook, Enabled: true, Config: []byte(good)}); err != nil {
			t.Fatal(err)
		}
		stored, err := e.s.ChannelsConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		emailBase := `"host":"127.0.0.1","port":2525,"from":"status@example.com"`

		tests := []struct {
			name    string
			channel string
			config  string
			field   string // the error message's field
		}{
			{"a webhook without a url", ChannelWebhook, `{"secret":"` + testSecret + `"}`, "config.url"},
			{"a webhook with an ftp url", ChannelWebhook, `{"url":"ftp://example.com","secret":"` + testSecret + `"}`, "config.url"},
			{"a webhook url that is not a string", ChannelWebhook, `{"url":5,"secret":"` + testSecret + `"}`, "config.url"},
			{"a webhook with a short secret", ChannelWebhook, `{"url":"https://example.com","secret":"short"}`, "config.secret"},
			{"a webhook with an unknown field", ChannelWebhook, `{"url":"https://example.com","secret":"` + testSecret + `","token":"x"}`, "config.token"},
			{"a webhook config that is not an object", ChannelWebhook, `["https://example.com"]`, "config"},
			{"a webhook config that is not JSON", ChannelWebhook, `{"url":`, "config"},
			{"an email without a host", ChannelEmail, `{"from":"status@example.com","security":"none"}`, "config.host"},
			{"an email with a host and port together", ChannelEmail, `{"host":"smtp.example.com:25","from":"status@example.com"}`, "config.host"},
			{"an email with a bad port", ChannelEmail, `{"host":"smtp.example.com","port":70000,"from":"status@example.com"}`, "config.port"},
			{"an email without a sender", ChannelEmail, `{"host":"smtp.example.com"}`, "config.from"},
			{"an email with an unknown security", ChannelEmail, `{` + emailBase + `,"security":"ssl"}`, "config.security"},
			{"an email with a username and no password", ChannelEmail, `{` + emailBase + `,"security":"none","username":"status"}`, "config.password"},
			{"an unknown channel", "sms", `{}`, "channel"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.s.ConfigureChannel(ctx, ChannelInput{Channel: tt.channel, Enabled: true, Config: []byte(tt.config)})
				var re *rpc.Error
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want an *rpc.Error", err)
				}
				if re.Status != 400 || !strings.HasPrefix(re.Message, tt.field+": ") {
					t.Errorf("error %d %q, want 400 naming %q", re.Status, re.Message, tt.field)
				}
				now, err := e.s.ChannelsConfig(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := asJSON(t, now), asJSON(t, stored); got != want {
					t.Errorf("channels after a refused config:\n%s\nwant as before:\n%s", got, want)
				}
				if now[1].Configured {
					t.Errorf("the email channel is configured after a refused config: %+v", now[1])
				}
			})
		}
	})
}

func TestAnEmptySecretKeepsTheStoredOneWhichIsNeverShown(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
		ctx := t.Context()
		a := e.users(t, 1)[0].ID

		if _, err := e.s.ConfigureChannel(ctx, ChannelInput{Channel: ChannelWebhook, Enabled: true,
			Config: []byte(`{"url":"https://example.com/first"}`)}); err == nil || !strings.Contains(err.Error(), "secret: required") {
			t.Fatalf("a first config without a secret: %v, want the secret required", err)
		}
		e.configureWebhook(t, "https://example.com/first")
		rc := newReceiver(t, always(200))
		v, err := e.s.ConfigureChannel(ctx, ChannelInput{Channel: ChannelWebhook, Enabled: true,
			Config: fmt.Appendf(nil, `{"url":%q,"secret":""}`, rc.URL)})
		if err != nil {
			t.Fatalf("an update with an empty secret: %v", err)
		}
		if v.Webhook == nil || v.Webhook.URL != rc.URL || !v.Webhook.HasSecret || !v.Enabled || !v.Configured {
			t.Errorf("ConfigureChannel = %+v (%+v), want the new URL and hasSecret", v, v.Webhook)
		}

		cs, err := e.s.ChannelsConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(cs)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), testSecret) || !strings.Contains(string(raw), `"hasSecret":true`) {
			t.Errorf("ChannelsConfig as JSON: %s; want hasSecret true and never the secret", raw)
		}

		// The kept secret is the one deliveries are signed with.
		e.optIn(t, ChannelWebhook, a)
		e.start(t)
		e.notify(t, "signed", a)
		h := receive(t, rc.got, "the webhook request")
		if err := delivery.Verify(testSecret, h.signature, h.body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("the delivery is not signed with the first secret: %v", err)
		}
	})
}

func TestAnEmptyPasswordKeepsTheStoredOneForTheSameUsername(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		ctx := t.Context()
		configure := func(password string) (ChannelView, error) {
			return e.s.ConfigureChannel(ctx, ChannelInput{Channel: ChannelEmail, Enabled: true, Config: fmt.Appendf(nil,
				`{"host":"127.0.0.1","port":2525,"username":"status","password":%q,"from":"status@example.com","security":"none"}`, password)})
		}
		if _, err := configure("hunter2-correct"); err != nil {
			t.Fatal(err)
		}
		v, err := configure("")
		if err != nil {
			t.Fatalf("an update with an empty password for the same username: %v", err)
		}
		if v.Email == nil || !v.Email.HasPassword || v.Email.Username != "status" {
			t.Errorf("ConfigureChannel = %+v, want the stored password kept", v.Email)
		}
		raw, _ := json.Marshal(v) // a ChannelView always encodes
		if strings.Contains(string(raw), "hunter2-correct") {
			t.Errorf("the channel view shows the password: %s", raw)
		}
	})
}
