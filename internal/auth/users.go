package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

const (
	minPasswordLen = 8    // characters
	maxPasswordLen = 1024 // bytes
	maxEmailLen    = 254
	maxNameLen     = 200
)

const userColumns = `id, email, name, role, created_at`

// CreateUser adds a user. The email is stored lower-cased; role "" means
// rpc.RoleUser. Invalid input is an *rpc.Error naming the field; an email
// already in use is ErrEmailTaken.
func (s *Service) CreateUser(ctx context.Context, email, name, password string, role rpc.Role) (User, error) {
	email, name = normalizeEmail(email), strings.TrimSpace(name)
	if role == "" {
		role = rpc.RoleUser
	}
	if err := validateNewUser(email, name, password, role); err != nil {
		return User{}, err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: newID(), Email: email, Name: name, Role: role, CreatedAt: s.now().Truncate(time.Microsecond)}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO auth_users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, string(u.Role), hash, store.Micros(u.CreatedAt))
	if store.IsUniqueViolation(err) {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: create user: %w", err)
	}
	s.logger.InfoContext(ctx, "user created", "user_id", u.ID, "role", string(u.Role))
	return u, nil
}

// GetUser returns the user with id, or ErrNotFound.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM auth_users WHERE id = ?`, id))
	if err != nil {
		return User{}, fmt.Errorf("auth: get user %s: %w", id, err)
	}
	return u, nil
}

// UserByEmail returns the user with email (compared case-insensitively), or
// ErrNotFound.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM auth_users WHERE email = ?`, normalizeEmail(email)))
	if err != nil {
		return User{}, fmt.Errorf("auth: user by email: %w", err)
	}
	return u, nil
}

// CountUsers returns how many users there are (zero on a new install).
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("auth: count users: %w", err)
	}
	return n, nil
}

// ListUsers returns every user, oldest first.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM auth_users ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("auth: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	return users, nil
}

// DeleteUser deletes the user with id, with its sessions and keys, then
// runs the OnUserDeleted hooks. An unknown id is ErrNotFound.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM auth_users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("auth: delete user %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("auth: delete user %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("auth: delete user %s: %w", id, ErrNotFound)
	}
	s.logger.InfoContext(ctx, "user deleted", "user_id", id)
	forgot := s.forget(ctx, userEntry(id))
	s.hooksMu.Lock()
	hooks := s.hooks[:len(s.hooks):len(s.hooks)]
	s.hooksMu.Unlock()
	for _, fn := range hooks {
		fn(ctx, id)
	}
	return forgot
}

// ErrLastAdmin: the change would leave no admin.
var ErrLastAdmin error = rpc.Conflict("the last admin cannot become a user; make another user an admin first")

// SetRole gives the user id the role, effective on the user's very next
// request on every instance (invariant 5). An unknown id is ErrNotFound;
// demoting the only admin is ErrLastAdmin. Setting the role a user has
// changes nothing and succeeds.
func (s *Service) SetRole(ctx context.Context, id string, role rpc.Role) error {
	if role != rpc.RoleAdmin && role != rpc.RoleUser {
		return rpc.Invalid("role", fmt.Sprintf("must be %q or %q", rpc.RoleAdmin, rpc.RoleUser))
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		// Lock the admins' rows (SQLite's write transaction holds the
		// whole database): two demotions at once cannot both see the
		// other still an admin.
		admins, err := store.Strings(ctx, tx, `SELECT id FROM auth_users WHERE role = 'admin'`+store.ForUpdate(tx))
		if err != nil {
			return err
		}
		var current string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM auth_users WHERE id = ?`, id).Scan(&current); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if rpc.Role(current) == role {
			return nil
		}
		if current == string(rpc.RoleAdmin) && len(admins) <= 1 {
			return ErrLastAdmin
		}
		_, err = tx.ExecContext(ctx, `UPDATE auth_users SET role = ? WHERE id = ?`, string(role), id)
		return err
	})
	if errors.Is(err, ErrLastAdmin) {
		return err
	}
	if err != nil {
		return fmt.Errorf("auth: set role of %s: %w", id, err)
	}
	s.logger.InfoContext(ctx, "user role set", "user_id", id, "role", string(role))
	return s.forget(ctx, userEntry(id))
}

// userWithHash returns the user with email and their password hash, or
// ErrNotFound.
func (s *Service) userWithHash(ctx context.Context, email string) (User, string, error) {
	var (
		u    User
		role string
		hash string
		at   int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+`, password_hash FROM auth_users WHERE email = ?`, email).
		Scan(&u.ID, &u.Email, &u.Name, &role, &at, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", ErrNotFound
	}
	if err != nil {
		return User{}, "", fmt.Errorf("auth: user by email: %w", err)
	}
	u.Role, u.CreatedAt = rpc.Role(role), store.FromMicros(at)
	return u, hash, nil
}

// scanUser reads the userColumns of one row; no row is ErrNotFound.
func scanUser(row store.Scanner) (User, error) {
	var (
		u    User
		role string
		at   int64
	)
	err := row.Scan(&u.ID, &u.Email, &u.Name, &role, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	u.Role, u.CreatedAt = rpc.Role(role), store.FromMicros(at)
	return u, nil
}

func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// validateNewUser checks a normalized email and name, a password and a
// role, naming the first field that is wrong.
func validateNewUser(email, name, password string, role rpc.Role) error {
	if err := validateEmail(email); err != nil {
		return err
	}
	switch {
	case name == "":
		return rpc.Invalid("name", "required")
	case utf8.RuneCountInString(name) > maxNameLen:
		return rpc.Invalid("name", fmt.Sprintf("must be at most %d characters", maxNameLen))
	case utf8.RuneCountInString(password) < minPasswordLen:
		return rpc.Invalid("password", fmt.Sprintf("must be at least %d characters", minPasswordLen))
	case len(password) > maxPasswordLen:
		return rpc.Invalid("password", fmt.Sprintf("must be at most %d bytes", maxPasswordLen))
	case role != rpc.RoleAdmin && role != rpc.RoleUser:
		return rpc.Invalid("role", fmt.Sprintf("must be %q or %q", rpc.RoleAdmin, rpc.RoleUser))
	}
	return nil
}

func validateEmail(email string) error {
	if email == "" {
		return rpc.Invalid("email", "required")
	}
	if len(email) > maxEmailLen {
		return rpc.Invalid("email", fmt.Sprintf("must be at most %d characters", maxEmailLen))
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") ||
		strings.ContainsFunc(email, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return rpc.Invalid("email", "must be an email address")
	}
	return nil
}
