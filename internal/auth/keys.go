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
// keys. Revoking a revoked key changes nothing and succeeds. When it
// returns nil, no instance accepts the key any more (invariant 5).
func (s *Service) RevokeKey(ctx context.Context, id string, by rpc.Principal) error {
	var (
		owner, hash string
		revoked     *int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT user_id, key_hash, revoked_at FROM auth_api_keys WHERE id = ?`, id).Scan(&owner, &hash, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != by.UserID && !by.IsAdmin()) {
		return fmt.Errorf("auth: revoke key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", id, err)
	}
	if revoked == nil {
		if _, err := s.db.ExecContext(ctx,
			`UPDATE auth_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
			store.Micros(s.now()), id); err != nil {
			return fmt.Errorf("auth: revoke key %s: %w", id, err)
		}
		s.logger.InfoContext(ctx, "api key revoked", "key_id", id, "owner_id", owner, "by_user_id", by.UserID)
	}
	// Also for a key revoked already: a retry after a failed drop drops it.
	return s.forget(ctx, keyEntry(hash))
}

// authenticateKey returns the user of an active key secret, or
// ErrInvalidCredentials, and records the key's use (invariant 2 of the
// package doc). A warm credential cache answers without a query.
func (s *Service) authenticateKey(ctx context.Context, secret string) (rpc.Principal, error) {
	if !strings.HasPrefix(secret, keyPrefix) {
		return rpc.Principal{}, ErrInvalidCredentials
	}
	k, err := s.cachedKey(ctx, secretHash(secret))
	if err != nil {
		return rpc.Principal{}, err
	}
	if k.Revoked {
		return rpc.Principal{}, ErrInvalidCredentials
	}
	u, err := s.cachedUser(ctx, k.UserID)
	if errors.Is(err, ErrNotFound) {
		return rpc.Principal{}, ErrInvalidCredentials // deleted since the key was cached
	}
	if err != nil {
		return rpc.Principal{}, err
	}
	s.recordUse(k.KeyID)
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
