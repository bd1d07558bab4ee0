package healthcheck

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

// SatelliteKeyPrefix starts every satellite key, so the server can tell
// one from a user's API key without a lookup.
const SatelliteKeyPrefix = "css_"

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// RegisterSatellite creates a satellite and returns its key, shown once.
func (s *Service) RegisterSatellite(ctx context.Context, name string) (Satellite, string, error) {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand)
	key := SatelliteKeyPrefix + base64.RawURLEncoding.EncodeToString(secret)
	sat := Satellite{ID: newID(), Name: name, CreatedAt: s.now()}
	_, err := s.st.db.ExecContext(ctx, `INSERT INTO healthcheck_satellites (id, name, key_hash, created_at) VALUES (?, ?, ?, ?)`,
		sat.ID, sat.Name, hashKey(key), store.Micros(sat.CreatedAt))
	if store.IsUniqueViolation(err) {
		return Satellite{}, "", rpc.Conflict(fmt.Sprintf("a satellite named %q exists", name))
	}
	if err != nil {
		return Satellite{}, "", fmt.Errorf("healthcheck: register satellite: %w", err)
	}
	return sat, key, nil
}

func (s *Service) Satellites(ctx context.Context) ([]Satellite, error) {
	rows, err := s.st.db.QueryContext(ctx, `SELECT id, name, created_at, last_seen_at FROM healthcheck_satellites ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("healthcheck: list satellites: %w", err)
	}
	defer rows.Close()
	out := []Satellite{}
	for rows.Next() {
		var sat Satellite
		var created int64
		var seen sql.NullInt64
		if err := rows.Scan(&sat.ID, &sat.Name, &created, &seen); err != nil {
			return nil, err
		}
		sat.CreatedAt, sat.LastSeenAt = store.FromMicros(created), timePtr(seen)
		out = append(out, sat)
	}
	return out, rows.Err()
}

// RemoveSatellite deletes a satellite. Its configurations are disabled and
// come back to this server (an admin re-enables or reassigns them): they
// were written for the satellite's network, so running them from here
// unasked could report false outages.
func (s *Service) RemoveSatellite(ctx context.Context, id string) error {
	var systems []string
	return s.mutateSystems(ctx, "removeSatellite", &systems,
		func(ctx context.Context) error {
			return s.st.db.InTx(ctx, func(tx *store.Tx) error {
				configs, err := satelliteConfigurations(ctx, tx, id)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE healthcheck_configurations SET enabled = ?, satellite_id = NULL, updated_at = ? WHERE satellite_id = ?`,
					false, store.Micros(s.now()), id); err != nil {
					return err
				}
				res, err := tx.ExecContext(ctx, `DELETE FROM healthcheck_satellites WHERE id = ?`, id)
				if err := affected(res, err, "remove satellite "+id); err != nil {
					return err
				}
				// The systems those configurations touch, read in the same
				// transaction, so that none moved here meanwhile is missed.
				for _, c := range configs {
					sys, err := s.st.systemsOf(ctx, tx, c)
					if err != nil {
						return err
					}
					systems = append(systems, sys...)
				}
				return nil
			})
		},
		func(ctx context.Context) {
			s.broadcast(ctx, SignalConfigurationChanged, map[string]string{"satelliteId": id, "action": "satelliteRemoved"})
		})
}

// satelliteConfigurations lists (and on PostgreSQL locks) the ids of the
// configurations assigned to a satellite.
func satelliteConfigurations(ctx context.Context, tx *store.Tx, satelliteID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM healthcheck_configurations WHERE satellite_id = ?`+store.ForUpdate(tx), satelliteID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// AuthenticateSatellite resolves a satellite key to its satellite's id and
// notes that the satellite was seen.
func (s *Service) AuthenticateSatellite(ctx context.Context, key string) (string, error) {
	if !strings.HasPrefix(key, SatelliteKeyPrefix) {
		return "", ErrNotFound
	}
	var id string
	var seen sql.NullInt64
	err := s.st.db.QueryRowContext(ctx, `SELECT id, last_seen_at FROM healthcheck_satellites WHERE key_hash = ?`, hashKey(key)).Scan(&id, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("healthcheck: authenticate satellite: %w", err)
	}
	now := s.now()
	if !seen.Valid || now.Sub(store.FromMicros(seen.Int64)) > time.Minute {
		if _, err := s.st.db.ExecContext(ctx, `UPDATE healthcheck_satellites SET last_seen_at = ? WHERE id = ?`, store.Micros(now), id); err != nil {
			s.log.WarnContext(ctx, "cannot note satellite seen", "satellite", id, "err", err)
		}
	}
	return id, nil
}

// Assignments lists the enabled configurations a satellite runs.
func (s *Service) Assignments(ctx context.Context, satelliteID string) ([]Configuration, error) {
	return s.st.configurations(ctx, "WHERE enabled = ? AND satellite_id = ?", true, satelliteID)
}

// maxIngest bounds the runs of one ingest call.
const maxIngest = 1000

// Ingest records runs a satellite posts. Every run must belong to a
// configuration assigned to that satellite, or none is recorded. A run
// recorded before (same id) is counted as a duplicate and changes nothing,
// so a satellite can resend a batch it is unsure about.
func (s *Service) Ingest(ctx context.Context, satelliteID string, runs []Run) (accepted, duplicates int, err error) {
	assigned, err := s.st.configurations(ctx, "WHERE satellite_id = ?", satelliteID)
	if err != nil {
		return 0, 0, err
	}
	mine := make(map[string]bool, len(assigned))
	for _, c := range assigned {
		mine[c.ID] = true
	}
	for i, r := range runs {
		if !mine[r.ConfigurationID] {
			return 0, 0, rpc.Forbidden(fmt.Sprintf("runs[%d].configurationId: %q is not assigned to this satellite", i, r.ConfigurationID))
		}
	}
	for _, r := range runs {
		r.Source = satelliteID
		switch err := s.Process(ctx, r); {
		case err == nil:
			accepted++
		case errors.Is(err, ErrDuplicate):
			duplicates++
		case errors.Is(err, ErrNotFound):
			// deleted meanwhile: nothing to record
		default:
			return accepted, duplicates, err
		}
	}
	return accepted, duplicates, nil
}

// SatelliteProcedures returns the satellite API: admins register and
// remove satellites; a satellite, with its key, fetches its assignments and
// posts results.
func (s *Service) SatelliteProcedures() []rpc.Procedure {
	const d = "satellite"
	return []rpc.Procedure{
		rpc.Mutate(d, "registerSatellite", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in nameInput) (map[string]any, error) {
			sat, key, err := s.RegisterSatellite(ctx, in.Name)
			return map[string]any{"satellite": sat, "key": key}, err
		}),
		rpc.Query(d, "listSatellites", rpc.Admin, func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) (map[string][]Satellite, error) {
			sats, err := s.Satellites(ctx)
			return map[string][]Satellite{"satellites": sats}, err
		}),
		rpc.Mutate(d, "removeSatellite", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.RemoveSatellite(ctx, in.ID), "satellite", in.ID)
		}),
		rpc.Query(d, "getAssignments", rpc.Satellite, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (map[string][]Configuration, error) {
			cs, err := s.Assignments(ctx, r.Principal.SatelliteID)
			return map[string][]Configuration{"configurations": cs}, err
		}),
		rpc.Mutate(d, "ingest", rpc.Satellite, func(ctx context.Context, r *rpc.Request, in ingestInput) (map[string]int, error) {
			accepted, duplicates, err := s.Ingest(ctx, r.Principal.SatelliteID, in.Runs)
			return map[string]int{"accepted": accepted, "duplicates": duplicates}, err
		}),
	}
}

type nameInput struct {
	Name string `json:"name"`
}

func (in nameInput) Validate() error {
	if strings.TrimSpace(in.Name) == "" {
		return rpc.Invalid("name", "required")
	}
	if len(in.Name) > 200 {
		return rpc.Invalid("name", "too long")
	}
	return nil
}

type ingestInput struct {
	Runs []Run `json:"runs"`
}

func (in ingestInput) Validate() error {
	switch {
	case in.Runs == nil:
		return rpc.Invalid("runs", "required")
	case len(in.Runs) > maxIngest:
		return rpc.Invalid("runs", fmt.Sprintf("at most %d per call", maxIngest))
	}
	for i, r := range in.Runs {
		field := fmt.Sprintf("runs[%d].", i)
		switch {
		case r.ID == "" || len(r.ID) > 128:
			return rpc.Invalid(field+"id", "required, at most 128 characters")
		case r.ConfigurationID == "":
			return rpc.Invalid(field+"configurationId", "required")
		case r.Status != Healthy && r.Status != Degraded && r.Status != Unhealthy:
			return rpc.Invalid(field+"status", `must be "healthy", "degraded" or "unhealthy"`)
		case r.LatencyMs < 0:
			return rpc.Invalid(field+"latencyMs", "must not be negative")
		case r.StartedAt.IsZero():
			return rpc.Invalid(field+"startedAt", "required")
		case len(r.Message) > 4096:
			return rpc.Invalid(field+"message", "too long")
		}
	}
	return nil
}
