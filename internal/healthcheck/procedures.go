package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/systemlink"
)

// Procedures returns the health check API: admins change configurations
// and associations; everyone signed in reads.
func (s *Service) Procedures() []rpc.Procedure {
	const d = "healthcheck"
	return []rpc.Procedure{
		rpc.Query(d, "getConfigurations", rpc.User, func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) (map[string][]Configuration, error) {
			cs, err := s.Configurations(ctx)
			return map[string][]Configuration{"configurations": cs}, err
		}),
		rpc.Query(d, "getConfiguration", rpc.User, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (Configuration, error) {
			c, err := s.Configuration(ctx, in.ID)
			return c, notFound(err, "configuration", in.ID)
		}),
		rpc.Mutate(d, "createConfiguration", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in configurationInput) (Configuration, error) {
			return s.CreateConfiguration(ctx, in.toInput())
		}),
		rpc.Mutate(d, "updateConfiguration", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in updateConfigurationInput) (Configuration, error) {
			c, err := s.UpdateConfiguration(ctx, in.ID, in.configurationInput.toInput())
			return c, notFound(err, "configuration or satellite", in.ID)
		}),
		rpc.Mutate(d, "deleteConfiguration", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.DeleteConfiguration(ctx, in.ID), "configuration", in.ID)
		}),
		rpc.Mutate(d, "associateSystem", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in associateInput) (Association, error) {
			enabled := in.Enabled == nil || *in.Enabled
			a, err := s.Associate(ctx, in.SystemID, in.ConfigurationID, enabled, in.Thresholds)
			return a, notFound(err, "system or configuration", in.SystemID+"/"+in.ConfigurationID)
		}),
		rpc.Mutate(d, "disassociateSystem", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in pairInput) (rpc.Empty, error) {
			err := s.Disassociate(ctx, in.SystemID, in.ConfigurationID)
			return rpc.Empty{}, notFound(err, "association", in.SystemID+"/"+in.ConfigurationID)
		}),
		rpc.Query(d, "getSystemConfigurations", rpc.User, func(ctx context.Context, _ *rpc.Request, in rpc.BySystem) (map[string]any, error) {
			as, cs, err := s.SystemConfigurations(ctx, in.SystemID)
			type item struct {
				Association
				Configuration Configuration `json:"configuration"`
			}
			items := make([]item, len(as))
			for i := range as {
				items[i] = item{as[i], cs[i]}
			}
			return map[string]any{"associations": items}, err
		}),
		rpc.Mutate(d, "runNow", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in configurationIDInput) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.RunNow(ctx, in.ConfigurationID), "configuration", in.ConfigurationID)
		}),
		rpc.Query(d, "getHistory", rpc.User, func(ctx context.Context, _ *rpc.Request, in historyInput) (HistoryPage, error) {
			p, err := s.History(ctx, in.ConfigurationID, in.From, in.To, in.Limit, in.Cursor)
			if errors.Is(err, errBadCursor) {
				return p, rpc.Invalid("cursor", "not a cursor this procedure returned")
			}
			return p, notFound(err, "configuration", in.ConfigurationID)
		}),
		rpc.Query(d, "getAggregatedHistory", rpc.User, func(ctx context.Context, _ *rpc.Request, in aggregatedInput) (map[string][]Bucket, error) {
			b, err := s.AggregatedHistory(ctx, in.ConfigurationID, in.From, in.To, in.TargetPoints)
			return map[string][]Bucket{"buckets": b}, notFound(err, "configuration", in.ConfigurationID)
		}),
		rpc.QueryJSON(d, "getSystemHealthStatus", rpc.Viewer, s.getSystemHealthStatus),
		rpc.QueryMap(d, "getBulkSystemHealthStatus", rpc.Viewer, "statuses", s.getBulkSystemHealthStatus),
		rpc.QueryMap(d, "getBulkUptime", rpc.Viewer, "uptime", s.getBulkUptime),
	}
}

// A signed-in user reads the statuses' cache entries as they are (see
// rpc.QueryJSON). A visitor of the public status page (not signed in)
// reads the health of the systems the page shows only, without the
// checks' details: a view of the entries, encoded for them.

func (s *Service) getSystemHealthStatus(ctx context.Context, r *rpc.Request, in rpc.BySystem) ([]byte, error) {
	if r.Principal.SignedIn() {
		return cache.WrapJSON(ctx, s.cache, keyStatus(in.SystemID), s.loadStatus(in.SystemID))
	}
	ids, err := s.viewable(ctx, r, []string{in.SystemID})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, rpc.NotFound("system", in.SystemID)
	}
	st, err := s.SystemHealth(ctx, in.SystemID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(forViewer(r, st))
}

func (s *Service) getBulkSystemHealthStatus(ctx context.Context, r *rpc.Request, in bulkInput) ([]string, []json.RawMessage, error) {
	if r.Principal.SignedIn() {
		raws, err := cache.WrapManyJSONFamily(ctx, s.cache, in.SystemIDs, famStatus, s.loadStatusMap)
		if err != nil {
			return nil, nil, err
		}
		return in.SystemIDs, raws, nil
	}
	ids, err := s.viewable(ctx, r, in.SystemIDs)
	if err != nil {
		return nil, nil, err
	}
	ss, err := s.BulkHealth(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	raws := make([]json.RawMessage, len(ss))
	for i, st := range ss {
		if raws[i], err = json.Marshal(forViewer(r, st)); err != nil {
			return nil, nil, err
		}
	}
	return ids, raws, nil
}

func (s *Service) getBulkUptime(ctx context.Context, r *rpc.Request, in uptimeInput) ([]string, []json.RawMessage, error) {
	ids, err := s.viewable(ctx, r, in.SystemIDs)
	if err != nil {
		return nil, nil, err
	}
	days := MaxUptimeDays
	if in.Days != nil {
		days = *in.Days
	}
	raws, err := s.UptimeJSON(ctx, ids, days)
	if err != nil {
		return nil, nil, err
	}
	return ids, raws, nil
}

// viewable is the ids the caller may read: all for a user, the public
// status page's for one of its visitors.
func (s *Service) viewable(ctx context.Context, r *rpc.Request, ids []string) ([]string, error) {
	if r.Principal.SignedIn() {
		return ids, nil
	}
	public, err := s.opts.PublicSystems.Set(ctx)
	if err != nil {
		return nil, err
	}
	return systemlink.Keep(ids, public), nil
}

// forViewer leaves out of a status what a visitor of the public status
// page does not see: the checks and their messages.
func forViewer(r *rpc.Request, st SystemStatus) SystemStatus {
	if !r.Principal.SignedIn() {
		st.Checks = []CheckStatus{}
	}
	return st
}

type uptimeInput struct {
	SystemIDs []string `json:"systemIds"`
	Days      *int     `json:"days"`
}

func (in uptimeInput) Validate() error {
	if err := rpc.CheckIDs("systemIds", in.SystemIDs, maxBulk); err != nil {
		return err
	}
	if in.Days != nil && (*in.Days < 1 || *in.Days > MaxUptimeDays) {
		return rpc.Invalid("days", fmt.Sprintf("must be between 1 and %d", MaxUptimeDays))
	}
	return nil
}

func notFound(err error, what, id string) error {
	if errors.Is(err, ErrNotFound) {
		return rpc.NotFound(what, id)
	}
	return err
}

// Inputs.

type configurationIDInput struct {
	ConfigurationID string `json:"configurationId"`
}

func (in configurationIDInput) Validate() error {
	return rpc.CheckID("configurationId", in.ConfigurationID)
}

type pairInput struct {
	SystemID        string `json:"systemId"`
	ConfigurationID string `json:"configurationId"`
}

func (in pairInput) Validate() error {
	return errors.Join(rpc.CheckID("systemId", in.SystemID), rpc.CheckID("configurationId", in.ConfigurationID))
}

type associateInput struct {
	SystemID        string     `json:"systemId"`
	ConfigurationID string     `json:"configurationId"`
	Enabled         *bool      `json:"enabled"`
	Thresholds      Thresholds `json:"thresholds"`
}

func (in associateInput) Validate() error {
	if err := (pairInput{in.SystemID, in.ConfigurationID}).Validate(); err != nil {
		return err
	}
	_, err := in.Thresholds.Normalize()
	return err
}

// maxBulk bounds one bulk status read.
const maxBulk = 1000

type bulkInput struct {
	SystemIDs []string `json:"systemIds"`
}

func (in bulkInput) Validate() error {
	switch {
	case in.SystemIDs == nil:
		return rpc.Invalid("systemIds", "required")
	case len(in.SystemIDs) > maxBulk:
		return rpc.Invalid("systemIds", "at most 1000")
	}
	for _, id := range in.SystemIDs {
		if err := rpc.CheckID("systemIds", id); err != nil {
			return err
		}
	}
	return nil
}

type configurationInput struct {
	Name            *string         `json:"name"`
	Strategy        *string         `json:"strategy"`
	Config          json.RawMessage `json:"config"`
	IntervalSeconds *int            `json:"intervalSeconds"`
	TimeoutSeconds  *int            `json:"timeoutSeconds"`
	Enabled         *bool           `json:"enabled"`
	SatelliteID     *string         `json:"satelliteId"`
}

func (in configurationInput) Validate() error {
	switch {
	case in.Name == nil || len(*in.Name) == 0:
		return rpc.Invalid("name", "required")
	case len(*in.Name) > 200:
		return rpc.Invalid("name", "too long")
	case in.Strategy == nil:
		return rpc.Invalid("strategy", "required")
	case in.Config == nil:
		return rpc.Invalid("config", "required")
	}
	return nil
}

func (in configurationInput) toInput() ConfigurationInput {
	return ConfigurationInput{Name: in.Name, Strategy: in.Strategy, Config: in.Config, IntervalSeconds: in.IntervalSeconds,
		TimeoutSeconds: in.TimeoutSeconds, Enabled: in.Enabled, SatelliteID: in.SatelliteID}
}

type updateConfigurationInput struct {
	ID string `json:"id"`
	configurationInput
}

func (in updateConfigurationInput) Validate() error {
	if err := rpc.CheckID("id", in.ID); err != nil {
		return err
	}
	if in.Name != nil && (len(*in.Name) == 0 || len(*in.Name) > 200) {
		return rpc.Invalid("name", "must be 1 to 200 characters")
	}
	return nil
}

type historyInput struct {
	ConfigurationID string    `json:"configurationId"`
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	Limit           int       `json:"limit"`
	Cursor          string    `json:"cursor"`
}

func (in *historyInput) Validate() error {
	if err := rpc.CheckID("configurationId", in.ConfigurationID); err != nil {
		return err
	}
	if in.Limit == 0 {
		in.Limit = 100
	}
	if in.Limit < 1 || in.Limit > 500 {
		return rpc.Invalid("limit", "must be between 1 and 500")
	}
	return checkRange(&in.From, &in.To)
}

// checkRange defaults an empty range to the last day and checks it.
func checkRange(from, to *time.Time) error {
	if to.IsZero() {
		*to = time.Now().Add(time.Second)
	}
	if from.IsZero() {
		*from = to.Add(-24 * time.Hour)
	}
	if !from.Before(*to) {
		return rpc.Invalid("from", "must be before to")
	}
	return nil
}

type aggregatedInput struct {
	ConfigurationID string    `json:"configurationId"`
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	TargetPoints    int       `json:"targetPoints"`
}

func (in *aggregatedInput) Validate() error {
	if err := rpc.CheckID("configurationId", in.ConfigurationID); err != nil {
		return err
	}
	if in.TargetPoints == 0 {
		in.TargetPoints = 48
	}
	if in.TargetPoints < 1 || in.TargetPoints > 1000 {
		return rpc.Invalid("targetPoints", "must be between 1 and 1000")
	}
	if err := checkRange(&in.From, &in.To); err != nil {
		return err
	}
	if in.To.Sub(in.From) > 400*24*time.Hour {
		return rpc.Invalid("from", "the range may span at most 400 days")
	}
	return nil
}
