package catalog

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// recordingBus remembers the signals sent, in order.
type recordingBus struct {
	mu      sync.Mutex
	signals []string
}

func (b *recordingBus) Broadcast(_ context.Context, signal string, _ any) error {
	b.mu.Lock()
	b.signals = append(b.signals, signal)
	b.mu.Unlock()
	return nil
}

func (b *recordingBus) SendToUser(_ context.Context, signal, userID string, _ any) error {
	return b.Broadcast(context.Background(), signal+"@"+userID, nil)
}

// addUser inserts a user row directly: catalog tests need one to own
// views and be a contact, not the auth domain.
func addUser(t *testing.T, db *store.DB, id, name, email string) {
	t.Helper()
	_, err := db.For("test").ExecContext(t.Context(),
		`INSERT INTO auth_users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, 'user', 'x', 0)`, id, email, name)
	if err != nil {
		t.Fatal(err)
	}
}

func newTestService(t *testing.T, db *store.DB) (*Service, *recordingBus) {
	bus := &recordingBus{}
	users := func(ctx context.Context, id string) (string, string, error) {
		var name, email string
		err := db.For("test").QueryRowContext(ctx, `SELECT name, email FROM auth_users WHERE id = ?`, id).Scan(&name, &email)
		if err != nil {
			return "", "", ErrNotFound
		}
		return name, email, nil
	}
	return New(db, cache.NewMemory(cache.MemoryOptions{}), bus, users, slog.New(slog.NewTextHandler(io.Discard, nil))), bus
}

func ptr(s string) *string { return &s }

func TestDeletingASystem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, bus := newTestService(t, db)
		addUser(t, db, "u1", "Ada", "ada@example.com")
		var deleted []string
		s.OnSystemDeleted(func(_ context.Context, id string) { deleted = append(deleted, id) })

		sys, _ := s.CreateSystem(ctx, SystemInput{Name: ptr("api")})
		g, _ := s.CreateGroup(ctx, GroupInput{Name: ptr("core")})
		if err := s.AddSystemToGroup(ctx, sys.ID, g.ID); err != nil {
			t.Fatal(err)
		}
		c, err := s.AddContact(ctx, Contact{SystemID: sys.ID, Type: ContactUser, UserID: "u1"})
		if err != nil || c.Name != "Ada" || c.Email != "ada@example.com" {
			t.Fatalf("AddContact = %+v, %v; want the user's name and email", c, err)
		}
		cs, _ := s.Contacts(ctx, sys.ID) // cached
		if len(cs) != 1 || cs[0].Email != "ada@example.com" {
			t.Fatalf("Contacts = %+v", cs)
		}
		s.Groups(ctx) // cached, with the member

		if err := s.DeleteSystem(ctx, sys.ID); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(deleted, []string{sys.ID}) {
			t.Fatalf("systemDeleted hook got %v", deleted)
		}
		gs, _ := s.Groups(ctx)
		if len(gs) != 1 || len(gs[0].SystemIDs) != 0 {
			t.Fatalf("groups after the delete: %+v; the membership should be gone", gs)
		}
		if _, err := s.Contacts(ctx, sys.ID); err != ErrNotFound {
			t.Fatalf("Contacts of a deleted system: %v, want ErrNotFound", err)
		}
		var n int
		db.For("test").QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_contacts`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d contact rows left", n)
		}
		if err := s.DeleteSystem(ctx, sys.ID); err != ErrNotFound {
			t.Fatalf("deleting twice: %v, want ErrNotFound", err)
		}
		if last := bus.signals[len(bus.signals)-1]; last != SignalChanged {
			t.Fatalf("last signal %s", last)
		}
	})
}

func TestUserDeletedDropsTheirViewsAndContacts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, bus := newTestService(t, db)
		addUser(t, db, "u1", "Ada", "ada@example.com")
		sys, _ := s.CreateSystem(ctx, SystemInput{Name: ptr("api")})
		s.AddContact(ctx, Contact{SystemID: sys.ID, Type: ContactUser, UserID: "u1"})
		s.CreateView(ctx, "u1", ViewInput{Name: ptr("mine")})
		if vs, _ := s.Views(ctx, "u1"); len(vs) != 1 {
			t.Fatalf("views %+v", vs)
		}
		if !slices.Contains(bus.signals, SignalViewsChanged+"@u1") {
			t.Fatalf("view signal not sent to its owner: %v", bus.signals)
		}
		s.Contacts(ctx, sys.ID)

		// The auth domain deletes the row (cascading), then fires the hook.
		if _, err := db.For("test").ExecContext(ctx, `DELETE FROM auth_users WHERE id = ?`, "u1"); err != nil {
			t.Fatal(err)
		}
		s.UserDeleted(ctx, "u1")
		if vs, _ := s.Views(ctx, "u1"); len(vs) != 0 {
			t.Fatalf("views after userDeleted: %+v", vs)
		}
		if cs, _ := s.Contacts(ctx, sys.ID); len(cs) != 0 {
			t.Fatalf("contacts after userDeleted: %+v", cs)
		}
	})
}

func TestUnknownSystemReadsAreCachedToo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, _ := newTestService(t, db)
		s.System(ctx, "ghost")
		before := db.QueryCount("catalog")
		for range 10 {
			if _, err := s.System(ctx, "ghost"); err != ErrNotFound {
				t.Fatalf("System(ghost) = %v", err)
			}
		}
		if after := db.QueryCount("catalog"); after != before {
			t.Fatalf("10 reads of an unknown id ran %d queries, want 0", after-before)
		}
		sys, _ := s.CreateSystem(ctx, SystemInput{Name: ptr("ghost")})
		if _, err := s.System(ctx, sys.ID); err != nil {
			t.Fatalf("a created system is not found: %v", err)
		}
	})
}
