package anomaly

import (
	"context"
	"errors"

	"github.com/checkstack/checkstack/cache"

	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/store"
)

// SetCheckSettings replaces a check's settings (validated by the caller);
// ErrNotFound for an unknown check. Detection uses them from the next
// run; what was cached of them, and every list, is dropped.
func (s *Service) SetCheckSettings(ctx context.Context, configID string, st Settings) error {
	return s.mutate(ctx, "updateAnomalyConfig",
		func(ctx context.Context) error { return s.st.putCheckSettings(ctx, configID, st, s.now()) },
		keySettings(configID))
}

// SetAssignmentSettings replaces a system's override of a check's
// settings; ErrNotFound for an unknown system or check.
func (s *Service) SetAssignmentSettings(ctx context.Context, systemID, configID string, st Settings) error {
	return s.mutate(ctx, "updateAnomalyAssignmentConfig",
		func(ctx context.Context) error {
			return s.st.putAssignmentSettings(ctx, systemID, configID, st, s.now())
		},
		keyAssign(systemID, configID))
}

func (s *Service) mutate(ctx context.Context, name string, write func(context.Context) error, key string) error {
	err := mutate.Do(ctx, s.log, name, write,
		func(ctx context.Context) error {
			_, err := s.cache.InvalidatePrefix(ctx, listFam)
			return errors.Join(err, s.cache.Invalidate(ctx, key))
		}, nil)
	if errors.Is(err, errUnknown) {
		return ErrNotFound
	}
	return err
}

// Suppress silences an anomaly (on) or lets it speak again (off): a
// suppressed anomaly notifies nobody and leaves the dashboard badge.
func (s *Service) Suppress(ctx context.Context, id string, on bool) (Anomaly, error) {
	var a Anomaly
	err := mutate.Do(ctx, s.log, "suppressAnomaly",
		func(ctx context.Context) error {
			return s.st.db.InTx(ctx, func(tx *store.Tx) error {
				cur, err := s.st.get(ctx, tx, id)
				if err != nil {
					return err
				}
				cur.Suppressed, cur.UpdatedAt = on, s.now()
				a = cur
				return s.st.save(ctx, tx, cur)
			})
		},
		func(ctx context.Context) error { return s.invalidatePair(ctx, a.SystemID, a.ConfigurationID) },
		func(ctx context.Context) { s.signal(ctx, a) })
	return a, err
}

// Mute stops a user's anomaly notifications of a system, of one field
// ("" every field); idempotent. ErrNotFound for an unknown system.
func (s *Service) Mute(ctx context.Context, userID, systemID, field string) error {
	return s.mutate(ctx, "muteAnomalies",
		func(ctx context.Context) error { return s.st.mute(ctx, userID, systemID, field, s.now()) }, keyMutes(userID))
}

// Unmute lifts a mute; idempotent.
func (s *Service) Unmute(ctx context.Context, userID, systemID, field string) error {
	return s.mutate(ctx, "unmuteAnomalies",
		func(ctx context.Context) error { return s.st.unmute(ctx, userID, systemID, field) }, keyMutes(userID))
}

// Hooks.

// SystemDeleted is the catalog's systemDeleted hook: the system's rows
// went with it (ON DELETE CASCADE); its cached entries are dropped.
func (s *Service) SystemDeleted(ctx context.Context, systemID string) {
	errs := []error{s.cache.Invalidate(ctx, keySystem(systemID))}
	for _, fam := range []string{listFam, cache.Key("open", systemID) + ":", cache.Key("baselines", systemID) + ":", cache.Key("assign", systemID) + ":"} {
		_, err := s.cache.InvalidatePrefix(ctx, fam)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "system", systemID, "err", err)
	}
}

// ChecksRemoved is the healthcheck's hook for a check deleted or
// disassociated: the episodes of those pairs are closed (a deleted check's
// rows went with it), and what was cached of them dropped.
func (s *Service) ChecksRemoved(ctx context.Context, r healthcheck.Removed) {
	for _, sys := range r.SystemIDs {
		open, err := s.st.openPair(ctx, s.st.db, sys, r.ConfigurationID, false)
		if err != nil {
			s.log.ErrorContext(ctx, "cannot read a removed check's anomalies", "err", err)
			continue
		}
		for _, a := range open {
			if err := s.close(ctx, a); err != nil {
				s.log.ErrorContext(ctx, "cannot close a removed check's anomaly", "anomaly", a.ID, "err", err)
			}
		}
		errs := []error{s.invalidatePair(ctx, sys, r.ConfigurationID), s.cache.Invalidate(ctx, keyBaselines(sys, r.ConfigurationID)),
			s.cache.Invalidate(ctx, keyAssign(sys, r.ConfigurationID))}
		if err := errors.Join(errs...); err != nil {
			s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
		}
	}
	if err := s.cache.Invalidate(ctx, keySettings(r.ConfigurationID)); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
}

// UserDeleted is the auth userDeleted hook: the user's mutes went with
// them; their cached entry is dropped.
func (s *Service) UserDeleted(ctx context.Context, userID string) {
	if err := s.cache.Invalidate(ctx, keyMutes(userID)); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "user", userID, "err", err)
	}
}
