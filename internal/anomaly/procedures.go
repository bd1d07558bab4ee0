package anomaly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/checkstack/checkstack/internal/rpc"
)

// Procedures returns the anomaly API: everyone signed in reads and keeps
// their own mutes; admins tune detection and suppress anomalies.
func (s *Service) Procedures() []rpc.Procedure {
	const d = "anomaly"
	return []rpc.Procedure{
		rpc.QueryObject(d, "getAnomalies", rpc.User, "anomalies", s.getAnomalies),
		rpc.QueryMap(d, "getBulkAnomaliesForSystems", rpc.User, "anomalies", s.getBulkAnomaliesForSystems),
		rpc.Query(d, "getAnomalyBaselines", rpc.User, s.getAnomalyBaselines),
		rpc.Query(d, "getAnomalyConfig", rpc.Admin, s.getAnomalyConfig),
		rpc.Mutate(d, "updateAnomalyConfig", rpc.Admin, s.updateAnomalyConfig),
		rpc.Query(d, "getAnomalyAssignmentConfig", rpc.Admin, s.getAnomalyAssignmentConfig),
		rpc.Mutate(d, "updateAnomalyAssignmentConfig", rpc.Admin, s.updateAnomalyAssignmentConfig),
		rpc.Mutate(d, "suppressAnomaly", rpc.Admin, s.suppressAnomaly),
		rpc.Mutate(d, "unsuppressAnomaly", rpc.Admin, s.unsuppressAnomaly),
		rpc.Query(d, "listAnomalyMutes", rpc.User, s.listAnomalyMutes),
		rpc.Mutate(d, "muteAnomalies", rpc.User, s.muteAnomalies),
		rpc.Mutate(d, "unmuteAnomalies", rpc.User, s.unmuteAnomalies),
	}
}

func (s *Service) getAnomalies(ctx context.Context, _ *rpc.Request, in listInput) ([]byte, error) {
	f := Filter{SystemID: in.SystemID, ConfigurationID: in.ConfigurationID, State: in.State, Kind: in.Kind, Suppression: in.Suppression}
	if in.Limit != nil {
		f.Limit = *in.Limit
	}
	raw, err := s.ListJSON(ctx, f)
	if err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Service) getBulkAnomaliesForSystems(ctx context.Context, _ *rpc.Request, in bulkInput) ([]string, []json.RawMessage, error) {
	raws, err := s.SystemsJSON(ctx, in.SystemIDs)
	if err != nil {
		return nil, nil, err
	}
	return in.SystemIDs, raws, nil
}

func (s *Service) getAnomalyBaselines(ctx context.Context, _ *rpc.Request, in pairInput) (map[string][]Baseline, error) {
	bs, err := s.Baselines(ctx, in.SystemID, in.ConfigurationID)
	return map[string][]Baseline{"baselines": bs}, err
}

// settingsView is a level of settings as set, with what applies to each
// field once every level is layered.
type settingsView struct {
	Config    Settings             `json:"config"`
	Effective map[string]Effective `json:"effective"`
}

func (s *Service) getAnomalyConfig(ctx context.Context, _ *rpc.Request, in checkInput) (settingsView, error) {
	st, err := s.CheckSettings(ctx, in.ConfigurationID)
	if err != nil {
		return settingsView{}, err
	}
	eff := map[string]Effective{}
	for _, f := range Fields {
		eff[f] = effective(f, st, Settings{})
	}
	return settingsView{Config: st, Effective: eff}, nil
}

func (s *Service) updateAnomalyConfig(ctx context.Context, r *rpc.Request, in updateCheckInput) (settingsView, error) {
	if err := s.SetCheckSettings(ctx, in.ConfigurationID, in.Config); err != nil {
		return settingsView{}, notFound(err, "health check configuration", in.ConfigurationID)
	}
	return s.getAnomalyConfig(ctx, r, checkInput{ConfigurationID: in.ConfigurationID})
}

func (s *Service) getAnomalyAssignmentConfig(ctx context.Context, _ *rpc.Request, in pairInput) (settingsView, error) {
	st, err := s.AssignmentSettings(ctx, in.SystemID, in.ConfigurationID)
	if err != nil {
		return settingsView{}, err
	}
	eff, err := s.Effective(ctx, in.SystemID, in.ConfigurationID)
	return settingsView{Config: st, Effective: eff}, err
}

func (s *Service) updateAnomalyAssignmentConfig(ctx context.Context, r *rpc.Request, in updatePairInput) (settingsView, error) {
	if err := s.SetAssignmentSettings(ctx, in.SystemID, in.ConfigurationID, in.Config); err != nil {
		return settingsView{}, notFound(err, "system or health check configuration", in.SystemID+"/"+in.ConfigurationID)
	}
	return s.getAnomalyAssignmentConfig(ctx, r, in.pairInput)
}

func (s *Service) suppressAnomaly(ctx context.Context, _ *rpc.Request, in anomalyInput) (Anomaly, error) {
	a, err := s.Suppress(ctx, in.AnomalyID, true)
	return a, notFound(err, "anomaly", in.AnomalyID)
}

func (s *Service) unsuppressAnomaly(ctx context.Context, _ *rpc.Request, in anomalyInput) (Anomaly, error) {
	a, err := s.Suppress(ctx, in.AnomalyID, false)
	return a, notFound(err, "anomaly", in.AnomalyID)
}

func (s *Service) listAnomalyMutes(ctx context.Context, r *rpc.Request, in mutesInput) (map[string][]Mute, error) {
	ms, err := s.Mutes(ctx, r.Principal.UserID)
	if in.SystemID != "" {
		ms = slices.DeleteFunc(slices.Clone(ms), func(m Mute) bool { return m.SystemID != in.SystemID })
	}
	return map[string][]Mute{"mutes": ms}, err
}

func (s *Service) muteAnomalies(ctx context.Context, r *rpc.Request, in muteInput) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.Mute(ctx, r.Principal.UserID, in.SystemID, in.FieldPath), "system", in.SystemID)
}

func (s *Service) unmuteAnomalies(ctx context.Context, r *rpc.Request, in muteInput) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.Unmute(ctx, r.Principal.UserID, in.SystemID, in.FieldPath), "system", in.SystemID)
}

func notFound(err error, what, id string) error {
	if errors.Is(err, ErrNotFound) {
		return rpc.NotFound(what, id)
	}
	return err
}

// Inputs and their validation.

const maxBulk = 1000

type listInput struct {
	SystemID        string      `json:"systemId"`
	ConfigurationID string      `json:"configurationId"`
	State           State       `json:"state"`
	Kind            Kind        `json:"kind"`
	Suppression     Suppression `json:"suppression"`
	Limit           *int        `json:"limit"`
}

func (in listInput) Validate() error {
	for _, id := range []struct{ field, v string }{{"systemId", in.SystemID}, {"configurationId", in.ConfigurationID}} {
		if id.v != "" {
			if err := rpc.CheckID(id.field, id.v); err != nil {
				return err
			}
		}
	}
	switch {
	case in.State != "" && !slices.Contains([]State{Suspicious, Confirmed, Recovered}, in.State):
		return rpc.Invalid("state", `must be "suspicious", "anomaly" or "recovered"`)
	case in.Kind != "" && in.Kind != Spike && in.Kind != Drift:
		return rpc.Invalid("kind", `must be "spike" or "drift"`)
	case in.Suppression != "" && !slices.Contains([]Suppression{SuppressionActive, SuppressionSuppressed, SuppressionAll}, in.Suppression):
		return rpc.Invalid("suppression", `must be "active", "suppressed" or "all"`)
	case in.Limit != nil && (*in.Limit < 1 || *in.Limit > 500):
		return rpc.Invalid("limit", "must be between 1 and 500")
	}
	return nil
}

type bulkInput struct {
	SystemIDs []string `json:"systemIds"`
}

func (in bulkInput) Validate() error { return rpc.CheckIDs("systemIds", in.SystemIDs, maxBulk) }

type checkInput struct {
	ConfigurationID string `json:"configurationId"`
}

func (in checkInput) Validate() error { return rpc.CheckID("configurationId", in.ConfigurationID) }

type pairInput struct {
	SystemID        string `json:"systemId"`
	ConfigurationID string `json:"configurationId"`
}

func (in pairInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("systemId", in.SystemID), rpc.CheckID("configurationId", in.ConfigurationID))
}

type updateCheckInput struct {
	ConfigurationID string   `json:"configurationId"`
	Config          Settings `json:"config"`
}

func (in updateCheckInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("configurationId", in.ConfigurationID), in.Config.Validate("config"))
}

type updatePairInput struct {
	pairInput
	Config Settings `json:"config"`
}

func (in updatePairInput) Validate() error {
	return rpc.FirstErr(in.pairInput.Validate(), in.Config.Validate("config"))
}

type anomalyInput struct {
	AnomalyID string `json:"anomalyId"`
}

func (in anomalyInput) Validate() error { return rpc.CheckID("anomalyId", in.AnomalyID) }

type mutesInput struct {
	SystemID string `json:"systemId"`
}

func (in mutesInput) Validate() error {
	if in.SystemID != "" {
		return rpc.CheckID("systemId", in.SystemID)
	}
	return nil
}

type muteInput struct {
	SystemID  string `json:"systemId"`
	FieldPath string `json:"fieldPath"`
}

func (in muteInput) Validate() error {
	if err := rpc.CheckID("systemId", in.SystemID); err != nil {
		return err
	}
	if in.FieldPath != "" && !slices.Contains(Fields, in.FieldPath) {
		return rpc.Invalid("fieldPath", fmt.Sprintf(`must be "" (every field) or one of %v`, Fields))
	}
	return nil
}
