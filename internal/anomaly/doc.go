// Package anomaly learns what each check's numbers look like on each
// system — latency for every strategy, and body size, days to certificate
// expiry and DNS answer counts where the strategy reports them — and
// flags runs that leave it.
//
//	svc := anomaly.New(db, provider, bus, logger, anomaly.Options{Health: health, Notifier: notifications})
//	health.OnRunRecorded(svc.RunRecorded) // spikes, judged on every run
//	health.OnRemoved(svc.ChecksRemoved)
//	catalog.OnSystemDeleted(svc.SystemDeleted)
//	svc.Start(ctx)                        // the hourly analyzer: baselines and drift
//
// # Baselines and verdicts
//
// A baseline is learnt from up to the last 7 days of a pair's runs
// (BaselineWindowDays), with at least MinSamples: mean, standard
// deviation and least-squares slope are reported; detection uses the
// median and the scaled median absolute deviation, a robust pair that one
// past incident cannot widen (detect_test.go measures the difference). A
// run is anomalous when a field leaves median ± 3 × spread × sensitivity
// in its bad direction and passes the floors (MinAbsoluteDelta,
// MinRelativeDelta). Drift is a trend of DriftThreshold spreads a day or
// more, judged by the analyzer. Failed runs are not judged: health says
// they failed.
//
// # Episodes
//
// Per system, check, field and kind: none → suspicious (an anomalous
// observation) → anomaly (confirmed after ConfirmationWindow in a row for
// a spike, 2 analyzer passes for drift) → recovered (the first normal run;
// 3 flat passes for drift), terminal: a new episode is a new row. A
// suspicious episode that sees a normal observation is cleared (deleted).
// Confirmation (warning) and recovery (info) notify the system's
// subscribers — held while the system's notifications are suppressed
// (incident, maintenance), leaving out users who muted the system or the
// field, and not at all for an anomaly an admin suppressed.
//
// # Reads and the cache
//
// Reads go through the cache (scope "anomaly"; see keys.go). A run that
// is normal on a pair with no open episode, with settings, baselines and
// open episodes cached, runs no query.
//
// # Invariants
//
// These must never happen; each has a test that fails when it breaks:
//
//  1. Two open episodes for one system, check, field and kind, or a
//     confirmation told twice: episodes step inside a transaction that
//     reads and holds the pair's open episodes (PostgreSQL: FOR UPDATE;
//     SQLite: the write lock), a unique index refuses a second open one
//     (the loser reads again and steps what the winner left), and a
//     confirmation is told only by the transaction that made it.
//  2. A read that starts after a transition's signal misses it: the
//     pair's open episodes, the system's entry and every list are
//     dropped before ANOMALY_STATE_CHANGED.
//  3. A late run undoing a newer one's step: an episode remembers the
//     newest observation it applied, and older ones change nothing.
//  4. The analyzer running twice in a period across a fleet: a pass runs
//     only on the instance that takes the "anomaly-analyzer" lease for
//     the period (package lease).
//  5. Settings that are a mix of two updates: updateAnomalyConfig and
//     updateAnomalyAssignmentConfig replace the settings whole (absent
//     fields inherit; they are not patched onto the stored ones) in one
//     INSERT … ON CONFLICT statement that reads nothing, so of two updates
//     at once one document is stored, whole.
package anomaly
