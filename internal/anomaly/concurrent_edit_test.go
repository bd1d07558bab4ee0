package anomaly

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// Settings are replaced whole, not patched: of two updates at once, the
// stored settings are exactly one of the two documents, never a mix and
// never what was there before.
func TestTwoSettingsUpdatesAtOnceLeaveOneWholeDocument(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		sys := e.systems[0]
		two, five, three := 2.0, 5, 3
		old := Settings{Overrides: Overrides{BaselineWindowDays: &three}}
		a := Settings{Overrides: Overrides{Sensitivity: &two}}
		b := Settings{Fields: map[string]Overrides{FieldLatency: {ConfirmationWindow: &five}}}
		encode := func(s Settings) string {
			raw, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			return string(raw)
		}
		for _, level := range []struct {
			name string
			set  func(context.Context, Settings) error
			get  func(context.Context) (Settings, error)
		}{
			{"check",
				func(ctx context.Context, s Settings) error { return e.s.SetCheckSettings(ctx, e.check, s) },
				func(ctx context.Context) (Settings, error) { return e.s.st.checkSettings(ctx, e.check) }},
			{"assignment",
				func(ctx context.Context, s Settings) error { return e.s.SetAssignmentSettings(ctx, sys, e.check, s) },
				func(ctx context.Context) (Settings, error) { return e.s.st.assignmentSettings(ctx, sys, e.check) }},
		} {
			for round := range 20 {
				must(t, level.set(t.Context(), old))
				storetest.Together(
					func() {
						if err := level.set(context.Background(), a); err != nil {
							t.Error(err)
						}
					},
					func() {
						if err := level.set(context.Background(), b); err != nil {
							t.Error(err)
						}
					})
				got, err := level.get(t.Context())
				must(t, err)
				if g := encode(got); g != encode(a) && g != encode(b) {
					t.Fatalf("%s settings, round %d: after two updates at once: %s; want %s or %s", level.name, round, g, encode(a), encode(b))
				}
			}
		}
	})
}
