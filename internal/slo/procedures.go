package slo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/rpc"
)

// Procedures returns the SLO API: everyone signed in reads; admins change
// objectives and dependencies.
func (s *Service) Procedures() []rpc.Procedure {
	const d = "slo"
	return []rpc.Procedure{
		rpc.QueryObject(d, "listObjectives", rpc.User, "objectives", func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) ([]byte, error) {
			return cache.WrapJSON(ctx, s.cache, keyList, s.loadList) // the entry List reads
		}),
		rpc.Query(d, "getObjective", rpc.User, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (ObjectiveStatus, error) {
			o, err := s.Objective(ctx, in.ID)
			return o, notFound(err, "objective", in.ID)
		}),
		rpc.QueryObject(d, "getObjectivesForSystem", rpc.User, "objectives", func(ctx context.Context, _ *rpc.Request, in rpc.BySystem) ([]byte, error) {
			raws, err := s.SystemsJSON(ctx, []string{in.SystemID})
			if err != nil {
				return nil, err
			}
			return raws[0], nil
		}),
		rpc.QueryMap(d, "getBulkObjectivesForSystems", rpc.User, "systems", func(ctx context.Context, _ *rpc.Request, in bulkInput) ([]string, []json.RawMessage, error) {
			raws, err := s.SystemsJSON(ctx, in.SystemIDs)
			return in.SystemIDs, raws, err
		}),
		rpc.Query(d, "getDowntimeEvents", rpc.User, func(ctx context.Context, _ *rpc.Request, in eventsInput) (map[string][]Event, error) {
			from, to, limit := in.bounds(s.now())
			es, err := s.Events(ctx, in.ObjectiveID, from, to, limit)
			return map[string][]Event{"events": es}, notFound(err, "objective", in.ObjectiveID)
		}),
		rpc.Query(d, "getDependencies", rpc.User, func(ctx context.Context, _ *rpc.Request, in rpc.BySystem) (Dependencies, error) {
			return s.Dependencies(ctx, in.SystemID)
		}),

		rpc.Mutate(d, "createObjective", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in createInput) (ObjectiveStatus, error) {
			return s.CreateObjective(ctx, in.toInput())
		}),
		rpc.Mutate(d, "updateObjective", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in updateInput) (ObjectiveStatus, error) {
			o, err := s.UpdateObjective(ctx, in.ID, in.toInput())
			return o, notFound(err, "objective", in.ID)
		}),
		rpc.Mutate(d, "deleteObjective", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.DeleteObjective(ctx, in.ID), "objective", in.ID)
		}),
		rpc.Mutate(d, "addDependency", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in dependencyInput) (rpc.Empty, error) {
			err := s.AddDependency(ctx, in.SystemID, in.UpstreamID)
			if errors.Is(err, ErrCycle) {
				return rpc.Empty{}, rpc.Invalid("upstreamId", "would make a dependency cycle: it depends on systemId already")
			}
			return rpc.Empty{}, notFound(err, "system", in.SystemID+" or "+in.UpstreamID)
		}),
		rpc.Mutate(d, "removeDependency", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in dependencyInput) (rpc.Empty, error) {
			err := s.RemoveDependency(ctx, in.SystemID, in.UpstreamID)
			return rpc.Empty{}, notFound(err, "dependency", in.SystemID+" → "+in.UpstreamID)
		}),
	}
}

func notFound(err error, what, id string) error {
	if errors.Is(err, ErrNotFound) {
		return rpc.NotFound(what, id)
	}
	return err
}

// Inputs and their validation.

const (
	maxName        = 200
	maxDescription = 4000
	maxExcluded    = 100
	maxBulk        = 1000
	maxEvents      = 1000
	defaultEvents  = 100
)

type bulkInput struct {
	SystemIDs []string `json:"systemIds"`
}

func (in bulkInput) Validate() error { return rpc.CheckIDs("systemIds", in.SystemIDs, maxBulk) }

type dependencyInput struct {
	SystemID   string `json:"systemId"`
	UpstreamID string `json:"upstreamId"`
}

func (in dependencyInput) Validate() error {
	if err := rpc.FirstErr(rpc.CheckID("systemId", in.SystemID), rpc.CheckID("upstreamId", in.UpstreamID)); err != nil {
		return err
	}
	if in.SystemID == in.UpstreamID {
		return rpc.Invalid("upstreamId", "a system cannot depend on itself")
	}
	return nil
}

type eventsInput struct {
	ObjectiveID string     `json:"objectiveId"`
	From        *time.Time `json:"from"`
	To          *time.Time `json:"to"`
	Limit       *int       `json:"limit"`
}

func (in eventsInput) Validate() error {
	if err := rpc.CheckID("objectiveId", in.ObjectiveID); err != nil {
		return err
	}
	if in.Limit != nil && (*in.Limit < 1 || *in.Limit > maxEvents) {
		return rpc.Invalid("limit", fmt.Sprintf("must be between 1 and %d", maxEvents))
	}
	if in.From != nil && in.To != nil && !in.From.Before(*in.To) {
		return rpc.Invalid("to", "must be after from")
	}
	return nil
}

// bounds are the input's range and limit with their defaults: the last 90
// days, 100 events.
func (in eventsInput) bounds(now time.Time) (from, to time.Time, limit int) {
	from, to, limit = now.Add(-90*24*time.Hour), now.Add(time.Second), defaultEvents
	if in.From != nil {
		from = *in.From
	}
	if in.To != nil {
		to = *in.To
	}
	if in.Limit != nil {
		limit = *in.Limit
	}
	return from, to, limit
}

// objectiveFields are the settable fields, shared by create (where some
// are required) and update (where every one is optional).
type objectiveFields struct {
	SystemID            *string          `json:"systemId"`
	Name                *string          `json:"name"`
	Description         *string          `json:"description"`
	Target              *float64         `json:"target"`
	WindowDays          *int             `json:"windowDays"`
	DependencyMode      *Mode            `json:"dependencyMode"`
	ExcludedUpstreamIDs []string         `json:"excludedUpstreamIds"`
	ConfigurationID     *string          `json:"healthCheckConfigurationId"`
	Maintenance         *MaintenanceMode `json:"maintenance"`
}

func (f objectiveFields) validate(create bool) error {
	if create {
		for _, req := range []struct {
			field string
			set   bool
		}{{"systemId", f.SystemID != nil}, {"name", f.Name != nil}, {"target", f.Target != nil}, {"windowDays", f.WindowDays != nil}} {
			if !req.set {
				return rpc.Invalid(req.field, "required")
			}
		}
	}
	if f.SystemID != nil {
		if err := rpc.CheckID("systemId", *f.SystemID); err != nil {
			return err
		}
	}
	if err := rpc.FirstErr(rpc.CheckName("name", f.Name, false, maxName), rpc.CheckText("description", f.Description, maxDescription)); err != nil {
		return err
	}
	if t := f.Target; t != nil && (math.IsNaN(*t) || *t <= 0 || *t >= 100) {
		return rpc.Invalid("target", "must be a percentage strictly between 0 and 100, such as 99.9")
	}
	if w := f.WindowDays; w != nil && (*w < 1 || *w > 90) {
		return rpc.Invalid("windowDays", "must be between 1 and 90")
	}
	if m := f.DependencyMode; m != nil && *m != SelfOnly && *m != Strict {
		return rpc.Invalid("dependencyMode", `must be "self-only" or "strict"`)
	}
	if len(f.ExcludedUpstreamIDs) > maxExcluded {
		return rpc.Invalid("excludedUpstreamIds", fmt.Sprintf("too many (at most %d)", maxExcluded))
	}
	for i, id := range f.ExcludedUpstreamIDs {
		if err := rpc.CheckID(fmt.Sprintf("excludedUpstreamIds[%d]", i), id); err != nil {
			return err
		}
	}
	if m := f.Maintenance; m != nil && *m != MaintenanceExclude && *m != MaintenanceCount {
		return rpc.Invalid("maintenance", `must be "exclude" or "count"`)
	}
	if c := f.ConfigurationID; c != nil && *c != "" {
		return rpc.CheckID("healthCheckConfigurationId", *c)
	}
	return nil
}

func (f objectiveFields) toInput() ObjectiveInput {
	return ObjectiveInput{SystemID: f.SystemID, Name: f.Name, Description: f.Description, Target: f.Target,
		WindowDays: f.WindowDays, Mode: f.DependencyMode, ExcludedUpstreamIDs: f.ExcludedUpstreamIDs, ConfigurationID: f.ConfigurationID,
		Maintenance: f.Maintenance}
}

type createInput struct {
	objectiveFields
}

func (in createInput) Validate() error { return in.validate(true) }

type updateInput struct {
	ID string `json:"id"`
	objectiveFields
}

func (in updateInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), in.validate(false))
}
