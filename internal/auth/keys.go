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

const maxKeyNameLen = 100

const keyColumns = `id, user_id, name, prefix, created_at, last_used_at, revoked_at`

// CreateKey creates an API key for userID and returns its secret, which is
// not stored and cannot be shown again, and the key as listed. An empty
// name is an *rpc.Error naming the field; an unknown user is ErrNotFound.
func (s *Service) CreateKey(ctx context.Context, userID, name string) (string, Key, error) {
	name = strings.TrimSpace(name)
	if err := validateKeyName(name); err != nil {
		return "", Key{}, err
	}
	secret := keyPrefix + newToken()
	k := Key{
		ID:        newID(),
		UserID:    userID,
		Name:      name,
		Prefix:    secret[:keyDisplayLen],
		CreatedAt: s.now().Truncate(time.Microsecond),
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO auth_api_keys (id, user_id, name, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.UserID, k.Name, secretHash(secret), k.Prefix, store.Micros(k.CreatedAt))
	if store.IsForeignKeyViolation(err) {
		return "", Key{}, fmt.Errorf("auth: create key: user %s: %w", userID, ErrNotFound)
	}
	if err != nil {
		return "", Key{}, fmt.Errorf("auth: create key: %w", err)
	}
	s.logger.InfoContext(ctx, "api key created", "user_id", userID, "key_id", k.ID)
	return secret, k, nil
}

// ListKeys returns userID's keys, revoked ones included, oldest first.
func (s *Service) ListKeys(ctx context.Context, userID string) ([]Key, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+keyColumns+` FROM auth_api_keys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	defer rows.Close()
	keys := []Key{}
	for rows.Next() {
		var (
			k                 Key
			created           int64
			lastUsed, revoked *int64
		)
		if err := rows.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &created, &lastUsed, &revoked); err != nil {
			return nil, fmt.Errorf("auth: list keys: %w", err)
		}
		k.CreatedAt, k.LastUsedAt, k.RevokedAt = store.FromMicros(created), optionalTime(lastUsed), optionalTime(revoked)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey revokes the key id on behalf of by, who must own it or be an
// admin. A key that does not exist, or that belongs to someone else and by
// is not an admin, is ErrNotFound: a user learns nothing about others'
// keys. Revoking a revoked key changes nothing and succeeds.
func (s *Service) RevokeKey(ctx context.Context, id string, by rpc.Principal) error {
	var (
		owner   string
		revoked *int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT user_id, revoked_at FROM auth_api_keys WHERE id = ?`, id).Scan(&owner, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != by.UserID && !by.IsAdmin()) {
		return fmt.Errorf("auth: revoke key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", id, err)
	}
	if revoked != nil {
		return nil
	}
	if _, err := s.db.ExecContext(ctx,
		`UPDATE auth_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
		store.Micros(s.now()), id); err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", id, err)
	}
	s.logger.InfoContext(ctx, "api key revoked", "key_id", id, "owner_id", owner, "by_user_id", by.UserID)
	return nil
}

// authenticateKey returns the user of an active key secret, or
// ErrInvalidCredentials, and records the key's use (invariant 2 of the
// package doc).
func (s *Service) authenticateKey(ctx context.Context, secret string) (rpc.Principal, error) {
	if !strings.HasPrefix(secret, keyPrefix) {
		return rpc.Principal{}, ErrInvalidCredentials
	}
	var (
		keyID             string
		lastUsed, revoked *int64
		role              string
		created           int64
		u                 User
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT k.id, k.last_used_at, k.revoked_at, u.id, u.email, u.name, u.role, u.created_at
		   FROM auth_api_keys k JOIN auth_users u ON u.id = k.user_id
		  WHERE k.key_hash = ?`, secretHash(secret)).
		Scan(&keyID, &lastUsed, &revoked, &u.ID, &u.Email, &u.Name, &role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return rpc.Principal{}, ErrInvalidCredentials
	}
	if err != nil {
		return rpc.Principal{}, fmt.Errorf("auth: authenticate key: %w", err)
	}
	if revoked != nil {
		return rpc.Principal{}, ErrInvalidCredentials
	}
	u.Role, u.CreatedAt = rpc.Role(role), store.FromMicros(created)

	now := s.now()
	stale := now.Add(-lastUsedInterval)
	if lastUsed == nil || !store.FromMicros(*lastUsed).After(stale) {
		// The condition makes the write once a minute across instances too.
		_, err := s.db.ExecContext(ctx,
			`UPDATE auth_api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
			store.Micros(now), keyID, store.Micros(stale))
		if err != nil {
			// The key is valid; failing to record its use must not refuse it.
			s.logger.WarnContext(ctx, "record api key use", "key_id", keyID, "err", err)
		}
	}
	return u.Principal(), nil
}

func validateKeyName(name string) error {
	if name == "" {
		return rpc.Invalid("name", "required")
	}
	if utf8.RuneCountInString(name) > maxKeyNameLen {
		return rpc.Invalid("name", fmt.Sprintf("must be at most %d characters", maxKeyNameLen))
	}
	return nil
}
