package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/systemlink"
	"github.com/checkstack/checkstack/internal/timeline"
)

// Procedures returns the maintenance API: everyone signed in reads;
// admins schedule, change and end windows.
func (s *Service) Procedures() []rpc.Procedure {
	const d = "maintenance"
	return []rpc.Procedure{
		rpc.QueryObject(d, "listMaintenances", rpc.Viewer, "maintenances", s.listMaintenances),
		rpc.Query(d, "getMaintenance", rpc.Viewer, s.getMaintenance),
		rpc.QueryObject(d, "getMaintenancesForSystem", rpc.User, "maintenances", s.getMaintenancesForSystem),
		rpc.QueryMap(d, "getBulkMaintenancesForSystems", rpc.Viewer, "maintenances", s.getBulkMaintenancesForSystems),

		rpc.Mutate(d, "createMaintenance", rpc.Admin, s.createMaintenance),
		rpc.Mutate(d, "updateMaintenance", rpc.Admin, s.updateMaintenance),
		rpc.Mutate(d, "addUpdate", rpc.Admin, s.addUpdate),
		rpc.Mutate(d, "editUpdate", rpc.Admin, s.editUpdate),
		rpc.Mutate(d, "deleteUpdate", rpc.Admin, s.deleteUpdate),
		rpc.Mutate(d, "closeMaintenance", rpc.Admin, s.closeMaintenance),
		rpc.Mutate(d, "cancelMaintenance", rpc.Admin, s.cancelMaintenance),
		rpc.Mutate(d, "deleteMaintenance", rpc.Admin, s.deleteMaintenance),
	}
}

func (s *Service) listMaintenances(ctx context.Context, r *rpc.Request, in listInput) ([]byte, error) {
	f := Filter{Status: in.Status, SystemID: in.SystemID}
	if !r.Principal.SignedIn() {
		ws, err := s.List(ctx, f)
		if err != nil {
			return nil, err
		}
		if ws, err = s.public(ctx, ws); err != nil {
			return nil, err
		}
		raw, err := json.Marshal(ws)
		return raw, err
	}
	raw, err := s.ListJSON(ctx, f)
	if err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Service) getMaintenance(ctx context.Context, r *rpc.Request, in rpc.ByID) (Detail, error) {
	d, err := s.Get(ctx, in.ID)
	if err != nil || r.Principal.SignedIn() {
		return d, notFound(err, "maintenance", in.ID)
	}
	shown, err := s.public(ctx, []Window{d.Window})
	if err != nil {
		return Detail{}, err
	}
	if len(shown) == 0 {
		return Detail{}, rpc.NotFound("maintenance", in.ID)
	}
	d.Window = shown[0]
	for i := range d.Updates {
		d.Updates[i].Anonymize() // who wrote it is for signed-in readers
	}
	return d, nil
}

// public is what a visitor of the public status page sees of maintenances.
func (s *Service) public(ctx context.Context, xs []Window) ([]Window, error) {
	shown, err := s.opts.PublicSystems.Set(ctx)
	if err != nil {
		return nil, err
	}
	return systemlink.Public(xs, shown, systemsOf), nil
}

func systemsOf(x *Window) *[]string { return &x.SystemIDs }

func (s *Service) getMaintenancesForSystem(ctx context.Context, _ *rpc.Request, in rpc.BySystem) ([]byte, error) {
	raws, err := s.SystemsJSON(ctx, []string{in.SystemID})
	if err != nil {
		return nil, err
	}
	return raws[0], nil
}

func (s *Service) getBulkMaintenancesForSystems(ctx context.Context, r *rpc.Request, in bulkInput) ([]string, []json.RawMessage, error) {
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
	shown, raws, err := systemlink.PublicBulk(ctx, ids, s.opts.PublicSystems, s.ForSystems, systemsOf)
	return shown, raws, err
}

func (s *Service) createMaintenance(ctx context.Context, r *rpc.Request, in createInput) (Detail, error) {
	return s.Create(ctx, author(r), in.toInput())
}

func (s *Service) updateMaintenance(ctx context.Context, _ *rpc.Request, in updateInput) (Detail, error) {
	d, err := s.Update(ctx, in.ID, in.toInput())
	return d, notFound(err, "maintenance", in.ID)
}

func (s *Service) addUpdate(ctx context.Context, r *rpc.Request, in addUpdateInput) (Update, error) {
	u, err := s.AddUpdate(ctx, author(r), in.MaintenanceID, in.Message, in.StatusChange)
	return u, notFound(err, "maintenance", in.MaintenanceID)
}

func (s *Service) editUpdate(ctx context.Context, _ *rpc.Request, in editUpdateInput) (Update, error) {
	u, err := s.EditUpdate(ctx, in.ID, in.Message)
	return u, notFound(err, "update", in.ID)
}

func (s *Service) deleteUpdate(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.DeleteUpdate(ctx, in.ID), "update", in.ID)
}

func (s *Service) closeMaintenance(ctx context.Context, r *rpc.Request, in endInput) (Detail, error) {
	d, err := s.Close(ctx, author(r), in.ID, in.Message)
	return d, notFound(err, "maintenance", in.ID)
}

func (s *Service) cancelMaintenance(ctx context.Context, r *rpc.Request, in endInput) (Detail, error) {
	d, err := s.Cancel(ctx, author(r), in.ID, in.Message)
	return d, notFound(err, "maintenance", in.ID)
}

func (s *Service) deleteMaintenance(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.Delete(ctx, in.ID), "maintenance", in.ID)
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
	Status   Status `json:"status"`
	SystemID string `json:"systemId"`
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

// windowFields are the settable fields, shared by create (where some are
// required) and update (where every one is optional).
type windowFields struct {
	Title                 *string                  `json:"title"`
	Description           *string                  `json:"description"`
	StartAt               *rpc.Time                `json:"startAt"`
	EndAt                 *rpc.Time                `json:"endAt"`
	SuppressNotifications *bool                    `json:"suppressNotifications"`
	SystemIDs             []string                 `json:"systemIds"`
	Recurrence            rpc.Nullable[Recurrence] `json:"recurrence"`
}

func (f windowFields) validate(create bool) error {
	if create {
		for _, req := range []struct {
			field string
			set   bool
		}{{"title", f.Title != nil}, {"startAt", f.StartAt != nil}, {"endAt", f.EndAt != nil}, {"systemIds", f.SystemIDs != nil}} {
			if !req.set {
				return rpc.Invalid(req.field, "required")
			}
		}
	}
	err := rpc.FirstErr(
		rpc.CheckName("title", f.Title, false, maxTitle),
		rpc.CheckText("description", f.Description, maxDescription),
	)
	if err != nil {
		return err
	}
	if f.StartAt != nil && f.EndAt != nil && !f.EndAt.Truncate(time.Second).After(f.StartAt.Truncate(time.Second)) {
		return rpc.Invalid("endAt", "must be after startAt")
	}
	if f.SystemIDs != nil {
		if err := rpc.CheckIDs("systemIds", f.SystemIDs, maxSystems); err != nil {
			return err
		}
	}
	if r := f.Recurrence; r.Set && !r.Null {
		if err := checkRule(r.Value.Rule); err != nil {
			return err
		}
	}
	return nil
}

func (f windowFields) toInput() WindowInput {
	in := WindowInput{Title: f.Title, Description: f.Description, StartAt: f.StartAt.Ptr(), EndAt: f.EndAt.Ptr(),
		SuppressNotifications: f.SuppressNotifications, SystemIDs: f.SystemIDs}
	if f.Recurrence.Set {
		var r *Recurrence
		if !f.Recurrence.Null {
			r = &f.Recurrence.Value
		}
		in.Recurrence = &r
	}
	return in
}

type createInput struct {
	windowFields
}

func (in createInput) Validate() error { return in.validate(true) }

type updateInput struct {
	ID string `json:"id"`
	windowFields
}

func (in updateInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), in.validate(false))
}

type addUpdateInput struct {
	MaintenanceID string  `json:"maintenanceId"`
	Message       string  `json:"message"`
	StatusChange  *Status `json:"statusChange"`
}

func (in addUpdateInput) Validate() error {
	if err := rpc.FirstErr(rpc.CheckID("maintenanceId", in.MaintenanceID), timeline.CheckMessage("message", &in.Message, true)); err != nil {
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

type endInput struct {
	ID      string  `json:"id"`
	Message *string `json:"message"`
}

func (in endInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), timeline.CheckMessage("message", in.Message, false))
}
