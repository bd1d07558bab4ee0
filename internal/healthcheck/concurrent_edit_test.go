package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// editRounds is how many times each concurrent-edit test starts its edits
// together: enough that on some rounds they really overlap.
const editRounds = 20

// editableConfig creates a configuration checked every 60 s with a 10 s
// timeout.
func editableConfig(t *testing.T, s *Service) Configuration {
	t.Helper()
	c, err := s.CreateConfiguration(t.Context(), ConfigurationInput{
		Name: ptr("api"), Strategy: ptr("http"), Config: json.RawMessage(`{"url":"http://127.0.0.1:1/"}`),
		IntervalSeconds: ptr(60), TimeoutSeconds: ptr(10),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTwoEditsOfAConfigurationAtOnceAreBothKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		for round := range editRounds {
			c := editableConfig(t, s)
			name := fmt.Sprintf("name %d", round)
			storetest.Together(
				func() {
					if _, err := s.UpdateConfiguration(context.Background(), c.ID, ConfigurationInput{Name: &name}); err != nil {
						t.Error(err)
					}
				},
				func() {
					if _, err := s.UpdateConfiguration(context.Background(), c.ID, ConfigurationInput{IntervalSeconds: ptr(120)}); err != nil {
						t.Error(err)
					}
				})
			got, err := s.st.configuration(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != name || got.IntervalSeconds != 120 {
				t.Fatalf("round %d: after two edits at once: name %q, interval %d; want %q and 120", round, got.Name, got.IntervalSeconds, name)
			}
		}
	})
}

// Each edit is valid against the stored configuration (interval 60,
// timeout 10), but together they are not: a 20 s timeout on a 15 s
// interval. The second to write must see the first's value and be
// refused; the stored configuration never has a timeout over its
// interval.
func TestTwoEditsValidAloneButNotTogetherKeepOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		for round := range editRounds {
			c := editableConfig(t, s)
			var errInterval, errTimeout error
			storetest.Together(
				func() {
					_, errInterval = s.UpdateConfiguration(context.Background(), c.ID, ConfigurationInput{IntervalSeconds: ptr(15)})
				},
				func() {
					_, errTimeout = s.UpdateConfiguration(context.Background(), c.ID, ConfigurationInput{TimeoutSeconds: ptr(20)})
				})
			got, err := s.st.configuration(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			var refused *rpc.Error
			switch {
			case errInterval == nil && errTimeout == nil:
				t.Fatalf("round %d: both edits accepted; stored interval %d, timeout %d", round, got.IntervalSeconds, got.TimeoutSeconds)
			case errInterval == nil && errors.As(errTimeout, &refused):
				if got.IntervalSeconds != 15 || got.TimeoutSeconds != 10 {
					t.Fatalf("round %d: the interval won, but stored interval %d, timeout %d", round, got.IntervalSeconds, got.TimeoutSeconds)
				}
			case errTimeout == nil && errors.As(errInterval, &refused):
				if got.IntervalSeconds != 60 || got.TimeoutSeconds != 20 {
					t.Fatalf("round %d: the timeout won, but stored interval %d, timeout %d", round, got.IntervalSeconds, got.TimeoutSeconds)
				}
			default:
				t.Fatalf("round %d: interval edit: %v; timeout edit: %v; want exactly one refused as invalid", round, errInterval, errTimeout)
			}
		}
	})
}
