// Package lease lets one instance of a fleet hold a job for a while: the
// analyzer that runs hourly, a purge that runs daily. A lease is a row
// (name, holder, until) in the shared database; taking it is one
// conditional upsert, so of any number of instances asking at once
// exactly one gets it, and it is free again once its time has passed —
// an instance that dies hands its job over when its lease ends.
//
//	l := lease.New(db, "anomaly-analyzer", instanceID)
//	if ok, err := l.Take(ctx, now, time.Hour); ok { runTheJob() }
//
// Holding a lease for a job's whole period (an hour for an hourly job)
// makes the job run once per period across the fleet.
package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// Lease is one named lease as one instance sees it.
type Lease struct {
	db     *store.Handle
	name   string
	holder string
}

// New returns the lease name, held (when taken) by holder: an id unique
// to this instance.
func New(db *store.DB, name, holder string) *Lease {
	return &Lease{db: db.For("lease"), name: name, holder: holder}
}

// Take takes the lease until now+d if it is free at now (never taken, or
// its time has passed), and reports whether it did. Its own holder cannot
// take it again before it ends either: a job held for its period runs
// once in it.
func (l *Lease) Take(ctx context.Context, now time.Time, d time.Duration) (bool, error) {
	res, err := l.db.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.until <= ?`,
		l.name, l.holder, store.Micros(now.Add(d)), store.Micros(now))
	if err != nil {
		return false, fmt.Errorf("lease: take %s: %w", l.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("lease: take %s: %w", l.name, err)
	}
	return n == 1, nil
}
