package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/systemlink"
	"github.com/checkstack/checkstack/internal/timeline"
)

// Procedures returns the incident API: everyone signed in reads; admins
// change incidents and their timelines.
func (s *Service) Procedures() []rpc.Procedure {
	const d = "incident"
	return []rpc.Procedure{
		rpc.QueryObject(d, "listIncidents", rpc.Viewer, "incidents", s.listIncidents),
		rpc.Query(d, "getIncident", rpc.Viewer, s.getIncident),
		rpc.QueryObject(d, "getIncidentsForSystem", rpc.User, "incidents", s.getIncidentsForSystem),
		rpc.QueryMap(d, "getBulkIncidentsForSystems", rpc.Viewer, "incidents", s.getBulkIncidentsForSystems),

		rpc.Mutate(d, "createIncident", rpc.Admin, s.createIncident),
		rpc.Mutate(d, "updateIncident", rpc.Admin, s.updateIncident),
		rpc.Mutate(d, "addUpdate", rpc.Admin, s.addUpdate),
		rpc.Mutate(d, "editUpdate", rpc.Admin, s.editUpdate),
		rpc.Mutate(d, "deleteUpdate", rpc.Admin, s.deleteUpdate),
		rpc.Mutate(d, "resolveIncident", rpc.Admin, s.resolveIncident),
		rpc.Mutate(d, "deleteIncident", rpc.Admin, s.deleteIncident),
	}
}

func (s *Service) listIncidents(ctx context.Context, r *rpc.Request, in listInput) ([]byte, error) {
	f := Filter{Status: in.Status, SystemID: in.SystemID, IncludeResolved: in.IncludeResolved}
	if !r.Principal.SignedIn() {
		ins, err := s.List(ctx, f)
		if err != nil {
			return nil, err
		}
		if ins, err = s.public(ctx, ins); err != nil {
			return nil, err
		}
		raw, err := json.Marshal(ins)
		return raw, err
	}
	raw, err := s.ListJSON(ctx, f)
	if err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Service) getIncident(ctx context.Context, r *rpc.Request, in rpc.ByID) (Detail, error) {
	d, err := s.Get(ctx, in.ID)
	if err != nil || r.Principal.SignedIn() {
		return d, notFound(err, "incident", in.ID)
	}
	shown, err := s.public(ctx, []Incident{d.Incident})
	if err != nil {
		return Detail{}, err
	}
	if len(shown) == 0 {
		return Detail{}, rpc.NotFound("incident", in.ID)
	}
	d.Incident = shown[0]
	for i := range d.Updates {
		d.Updates[i].Anonymize() // who wrote it is for signed-in readers
	}
	return d, nil
}

// public is what a visitor of the public status page sees of incidents.
func (s *Service) public(ctx context.Context, xs []Incident) ([]Incident, error) {
	shown, err := s.opts.PublicSystems.Set(ctx)
	if err != nil {
		return nil, err
	}
	return systemlink.Public(xs, shown, systemsOf), nil
}

func systemsOf(x *Incident) *[]string { return &x.SystemIDs }

func (s *Service) getIncidentsForSystem(ctx context.Context, _ *rpc.Request, in rpc.BySystem) ([]byte, error) {
	raws, err := s.SystemsJSON(ctx, []string{in.SystemID})
	if err != nil {
		return nil, err
	}
	return raws[0], nil
}

func (s *Service) getBulkIncidentsForSystems(ctx context.Context, r *rpc.Request, in bulkInput) ([]string, []json.RawMessage, error) {
	if !r.Principal.SignedIn() {
		return s.publicBulk(ctx, in.SystemIDs)
	}
	raws, err := s.SystemsJSON(ctx, in.SystemIDs)
	if err != nil {
		return nil, nil, err
	}
	return in.SystemIDs, raws, nil
}

// publicBulk is the bulk read for a visitor of the public status page.
func (s *Service) publicBulk(ctx context.Context, ids []string) ([]string, []json.RawMessage, error) {
	return systemlink.PublicBulk(ctx, ids, s.opts.PublicSystems, s.forSystems, systemsOf)
}

func (s *Service) createIncident(ctx context.Context, r *rpc.Request, in createInput) (Detail, error) {
	ci := CreateInput{Title: *in.Title, Description: in.Description, SystemIDs: in.SystemIDs, InitialMessage: in.InitialMessage}
	if in.Severity != nil {
		ci.Severity = *in.Severity
	}
	if in.SuppressNotifications != nil {
		ci.SuppressNotifications = *in.SuppressNotifications
	}
	return s.Create(ctx, author(r), ci)
}

func (s *Service) updateIncident(ctx context.Context, _ *rpc.Request, in updateInput) (Detail, error) {
	u := UpdateInput{Title: in.Title, Severity: in.Severity, SuppressNotifications: in.SuppressNotifications, SystemIDs: in.SystemIDs}
	if in.Description.Set {
		d := &in.Description.Value
		if in.Description.Null {
			d = nil
		}
		u.Description = &d
	}
	inc, err := s.Update(ctx, in.ID, u)
	return inc, notFound(err, "incident", in.ID)
}

func (s *Service) addUpdate(ctx context.Context, r *rpc.Request, in addUpdateInput) (Update, error) {
	u, err := s.AddUpdate(ctx, author(r), in.IncidentID, in.Message, in.StatusChange)
	return u, notFound(err, "incident", in.IncidentID)
}

func (s *Service) editUpdate(ctx context.Context, _ *rpc.Request, in editUpdateInput) (Update, error) {
	u, err := s.EditUpdate(ctx, in.ID, in.Message)
	return u, notFound(err, "update", in.ID)
}

func (s *Service) deleteUpdate(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.DeleteUpdate(ctx, in.ID), "update", in.ID)
}

func (s *Service) resolveIncident(ctx context.Context, r *rpc.Request, in resolveInput) (Detail, error) {
	d, err := s.Resolve(ctx, author(r), in.ID, in.Message)
	return d, notFound(err, "incident", in.ID)
}

func (s *Service) deleteIncident(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.Delete(ctx, in.ID), "incident", in.ID)
}

func author(r *rpc.Request) timeline.Author {
	return timeline.Author{ID: r.Principal.UserID, Name: r.Principal.Name}
}

func notFound(err error, what, id string) error {
	if errors.Is(err, ErrNotFound) {
		return rpc.NotFound(what, id)
	}
	return err
}

// Inputs and their validation.

const (
	maxTitle       = 200
	maxDescription = 10000
	maxSystems     = 500
	maxBulk        = 1000
)

type listInput struct {
	Status          Status `json:"status"`
	SystemID        string `json:"systemId"`
	IncludeResolved bool   `json:"includeResolved"`
}

func (in listInput) Validate() error {
	if in.Status != "" {
		if err := checkStatus("status", in.Status); err != nil {
			return err
		}
	}
	if in.SystemID != "" {
		return rpc.CheckID("systemId", in.SystemID)
	}
	return nil
}

type bulkInput struct {
	SystemIDs []string `json:"systemIds"`
}

func (in bulkInput) Validate() error { return rpc.CheckIDs("systemIds", in.SystemIDs, maxBulk) }

func checkStatus(field string, st Status) error {
	if !slices.Contains(Statuses, st) {
		return rpc.Invalid(field, fmt.Sprintf("must be one of %v", Statuses))
	}
	return nil
}

func checkSeverity(sv *Severity) error {
	if sv != nil && !slices.Contains(Severities, *sv) {
		return rpc.Invalid("severity", fmt.Sprintf("must be one of %v", Severities))
	}
	return nil
}

type createInput struct {
	Title                 *string   `json:"title"`
	Description           *string   `json:"description"`
	Severity              *Severity `json:"severity"`
	SuppressNotifications *bool     `json:"suppressNotifications"`
	SystemIDs             []string  `json:"systemIds"`
	InitialMessage        *string   `json:"initialMessage"`
}

func (in createInput) Validate() error {
	return rpc.FirstErr(
		rpc.CheckName("title", in.Title, true, maxTitle),
		rpc.CheckText("description", in.Description, maxDescription),
		checkSeverity(in.Severity),
		rpc.CheckIDs("systemIds", in.SystemIDs, maxSystems),
		timeline.CheckMessage("initialMessage", in.InitialMessage, false),
	)
}

type updateInput struct {
	ID                    string               `json:"id"`
	Title                 *string              `json:"title"`
	Description           rpc.Nullable[string] `json:"description"`
	Severity              *Severity            `json:"severity"`
	SuppressNotifications *bool                `json:"suppressNotifications"`
	SystemIDs             []string             `json:"systemIds"`
}

func (in updateInput) Validate() error {
	err := rpc.FirstErr(
		rpc.CheckID("id", in.ID),
		rpc.CheckName("title", in.Title, false, maxTitle),
		checkSeverity(in.Severity),
	)
	if err != nil {
		return err
	}
	if in.Description.Set && !in.Description.Null {
		if err := rpc.CheckText("description", &in.Description.Value, maxDescription); err != nil {
			return err
		}
	}
	if in.SystemIDs != nil {
		return rpc.CheckIDs("systemIds", in.SystemIDs, maxSystems)
	}
	return nil
}

type addUpdateInput struct {
	IncidentID   string  `json:"incidentId"`
	Message      string  `json:"message"`
	StatusChange *Status `json:"statusChange"`
}

func (in addUpdateInput) Validate() error {
	if err := rpc.FirstErr(rpc.CheckID("incidentId", in.IncidentID), timeline.CheckMessage("message", &in.Message, true)); err != nil {
		return err
	}
	if in.StatusChange != nil {
		return checkStatus("statusChange", *in.StatusChange)
	}
	return nil
}

type editUpdateInput struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (in editUpdateInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), timeline.CheckMessage("message", &in.Message, true))
}

type resolveInput struct {
	ID      string  `json:"id"`
	Message *string `json:"message"`
}

func (in resolveInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), timeline.CheckMessage("message", in.Message, false))
}
