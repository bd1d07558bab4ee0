package anomaly

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/store"
)

// The analyzer: every AnalyzeEvery, once per fleet (the instance holding
// the "anomaly-analyzer" lease for the period), it learns every assigned
// pair's baselines again from its recent runs, judges drift, and closes
// the episodes of pairs no longer assigned.

// Start runs the analyzer until ctx ends or Stop is called. Each instance
// tries for the lease every twelfth of the period, so that a dead
// holder's work resumes soon after its lease ends.
func (s *Service) Start(ctx context.Context) {
	s.jobs.Start(ctx, func(ctx context.Context) {
		try := s.opts.AnalyzeEvery / 12
		for {
			if err := s.maybeAnalyze(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "analysis failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-s.opts.Clock.At(s.opts.Clock.Now().Add(try)):
			}
		}
	})
}

// Stop stops the analyzer and waits, until ctx ends, for a pass under
// way. Safe to call more than once.
func (s *Service) Stop(ctx context.Context) error {
	if err := s.jobs.Stop(ctx); err != nil {
		return fmt.Errorf("anomaly: analyzer still running at shutdown: %w", err)
	}
	return nil
}

// maybeAnalyze runs a pass if this instance takes the lease for the
// period.
func (s *Service) maybeAnalyze(ctx context.Context) error {
	ok, err := s.lease.Take(ctx, s.now(), s.opts.AnalyzeEvery)
	if err != nil || !ok {
		return err
	}
	return s.Analyze(ctx)
}

// Analyze is one pass of the analyzer, whoever holds the lease (tests
// call it directly).
func (s *Service) Analyze(ctx context.Context) error {
	if s.opts.Health == nil {
		return nil
	}
	s.passes.Add(1)
	assigned, err := s.opts.Health.Associations(ctx)
	if err != nil {
		return err
	}
	runsOf := map[string][]healthcheck.Run{} // by check: every system of a check learns from the same runs
	active := map[[2]string]bool{}
	var errs []error
	for _, as := range assigned {
		if !as.Enabled {
			continue
		}
		active[[2]string{as.SystemID, as.ConfigurationID}] = true
		if _, err := s.learn(ctx, as.SystemID, as.ConfigurationID, runsOf, true); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.closeUnassigned(ctx, active))
	return errors.Join(errs...)
}

// maxWindow is the longest baseline window settings allow.
const maxWindow = 30 * 24 * time.Hour

// learn learns a pair's baselines from its runs (read once per check into
// runsOf, when given), stores them, drops the cached ones, and, for the
// analyzer (withDrift), judges drift. It reports whether any field had
// enough samples.
func (s *Service) learn(ctx context.Context, systemID, configID string, runsOf map[string][]healthcheck.Run, withDrift bool) (bool, error) {
	eff, err := s.Effective(ctx, systemID, configID)
	if err != nil {
		return false, err
	}
	now := s.now()
	runs, ok := runsOf[configID]
	if !ok {
		if runs, err = s.opts.Health.Runs(ctx, configID, now.Add(-maxWindow)); err != nil {
			return false, err
		}
		if runsOf != nil {
			runsOf[configID] = runs
		}
	}
	samples := map[string][]Sample{}
	for _, r := range runs {
		for f, v := range Extract(r) {
			window := time.Duration(eff[f].BaselineWindowDays) * 24 * time.Hour
			if r.StartedAt.After(now.Add(-window)) {
				samples[f] = append(samples[f], Sample{At: r.StartedAt, Value: v})
			}
		}
	}
	var bs []Baseline
	var obs []observation
	for _, f := range Fields {
		st, ok := Learn(samples[f])
		if !ok {
			continue
		}
		bs = append(bs, Baseline{SystemID: systemID, ConfigurationID: configID, Field: f, WindowDays: eff[f].BaselineWindowDays, ComputedAt: now, Stats: st})
		e := eff[f]
		if !withDrift || !e.Enabled || !e.DriftEnabled {
			continue
		}
		drifting, rate := Drifting(st, e.Direction, e.DriftThreshold)
		obs = append(obs, observation{field: f, kind: Drift, value: st.SlopePerHour * 24, verdict: Verdict{Anomalous: drifting, Deviation: rate},
			base: Centre{Median: st.Median, Spread: st.TrendSpread}, at: now, confirm: driftConfirm, recover: driftRecover})
	}
	if len(bs) == 0 {
		return false, nil
	}
	if err := s.st.replaceBaselines(ctx, systemID, configID, bs); err != nil {
		return false, err
	}
	if err := s.cache.Invalidate(ctx, keyBaselines(systemID, configID)); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
	open, err := s.openPair(ctx, systemID, configID)
	if err != nil {
		return true, err
	}
	isOpen := map[string]bool{}
	for _, a := range open {
		if a.Kind == Drift {
			isOpen[a.Field] = true
		}
	}
	var steps []observation
	for _, o := range obs {
		if o.verdict.Anomalous || isOpen[o.field] {
			steps = append(steps, o)
		}
	}
	if len(steps) == 0 {
		return true, nil
	}
	return true, s.observe(ctx, systemID, configID, steps)
}

// closeUnassigned ends the open episodes of pairs no longer assigned (a
// check disassociated or disabled): suspicious ones are cleared,
// confirmed ones recover, quietly.
func (s *Service) closeUnassigned(ctx context.Context, active map[[2]string]bool) error {
	open, err := s.st.allOpen(ctx)
	if err != nil {
		return err
	}
	for _, a := range open {
		if active[[2]string{a.SystemID, a.ConfigurationID}] {
			continue
		}
		if err := s.close(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// close ends one open episode without telling anyone but the dashboards.
func (s *Service) close(ctx context.Context, a Anomaly) error {
	now := s.now()
	err := s.st.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := s.st.get(ctx, tx, a.ID)
		if errors.Is(err, ErrNotFound) || (err == nil && !cur.Open()) {
			return errNothing
		}
		if err != nil {
			return err
		}
		if cur.State == Suspicious {
			a.State = Cleared
			return s.st.delete(ctx, tx, a.ID)
		}
		cur.State, cur.RecoveredAt, cur.UpdatedAt = Recovered, &now, now
		a = cur
		return s.st.save(ctx, tx, cur)
	})
	if errors.Is(err, errNothing) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.invalidatePair(ctx, a.SystemID, a.ConfigurationID); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
	s.signal(ctx, a)
	return nil
}

var errNothing = errors.New("anomaly: nothing to do")
