package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/mail"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/rpc"
)

// Procedures returns the catalog's API. Every signed-in user reads; admins
// change systems, groups and contacts; each user manages their own views.
func (s *Service) Procedures() []rpc.Procedure {
	const d = "catalog"
	return []rpc.Procedure{
		// The hot reads answer with their cache entries' bytes (see
		// rpc.QueryJSON): the entries Entities, Systems, System and Groups
		// read typed.
		rpc.QueryJSON(d, "getEntities", rpc.Viewer, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) ([]byte, error) {
			if !r.Principal.SignedIn() {
				return cache.WrapJSON(ctx, s.cache, keyPublic, s.loadPublic) // a visitor of the public status page
			}
			return cache.WrapJSON(ctx, s.cache, keyEntity, s.st.entities)
		}),
		rpc.QueryObject(d, "getSystems", rpc.User, "systems", func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) ([]byte, error) {
			return cache.WrapJSON(ctx, s.cache, keySystems, s.st.systems)
		}),
		rpc.QueryJSON(d, "getSystem", rpc.User, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) ([]byte, error) {
			raw, err := cache.WrapFoundJSON(ctx, s.cache, keySystem(in.ID), ErrNotFound, s.loadSystem(in.ID))
			return raw, notFound(err, "system", in.ID)
		}),
		rpc.QueryObject(d, "getGroups", rpc.User, "groups", func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) ([]byte, error) {
			return cache.WrapJSON(ctx, s.cache, keyGroups, s.st.groups)
		}),
		rpc.Query(d, "getSystemGroupIds", rpc.User, func(ctx context.Context, _ *rpc.Request, in rpc.BySystem) (map[string][]string, error) {
			ids, err := s.SystemGroupIDs(ctx, in.SystemID)
			return map[string][]string{"groupIds": ids}, notFound(err, "system", in.SystemID)
		}),
		rpc.Query(d, "getViews", rpc.User, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (map[string][]View, error) {
			vs, err := s.Views(ctx, r.Principal.UserID)
			return map[string][]View{"views": vs}, err
		}),
		rpc.Query(d, "getSystemContacts", rpc.User, func(ctx context.Context, _ *rpc.Request, in rpc.BySystem) (map[string][]Contact, error) {
			cs, err := s.Contacts(ctx, in.SystemID)
			return map[string][]Contact{"contacts": cs}, notFound(err, "system", in.SystemID)
		}),

		rpc.Mutate(d, "createSystem", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in createSystemInput) (System, error) {
			return s.CreateSystem(ctx, in.toInput())
		}),
		rpc.Mutate(d, "updateSystem", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in updateSystemInput) (System, error) {
			sys, err := s.UpdateSystem(ctx, in.ID, in.toInput())
			return sys, notFound(err, "system", in.ID)
		}),
		rpc.Mutate(d, "deleteSystem", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.DeleteSystem(ctx, in.ID), "system", in.ID)
		}),
		rpc.Mutate(d, "createGroup", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in createGroupInput) (Group, error) {
			return s.CreateGroup(ctx, in.toInput())
		}),
		rpc.Mutate(d, "updateGroup", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in updateGroupInput) (Group, error) {
			g, err := s.UpdateGroup(ctx, in.ID, in.toInput())
			return g, notFound(err, "group", in.ID)
		}),
		rpc.Mutate(d, "deleteGroup", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.DeleteGroup(ctx, in.ID), "group", in.ID)
		}),
		rpc.Mutate(d, "addSystemToGroup", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in membershipInput) (rpc.Empty, error) {
			err := s.AddSystemToGroup(ctx, in.SystemID, in.GroupID)
			return rpc.Empty{}, notFound(err, "system or group", in.SystemID+"/"+in.GroupID)
		}),
		rpc.Mutate(d, "removeSystemFromGroup", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in membershipInput) (rpc.Empty, error) {
			err := s.RemoveSystemFromGroup(ctx, in.SystemID, in.GroupID)
			return rpc.Empty{}, notFound(err, "membership", in.SystemID+"/"+in.GroupID)
		}),
		rpc.Mutate(d, "createView", rpc.User, func(ctx context.Context, r *rpc.Request, in createViewInput) (View, error) {
			return s.CreateView(ctx, r.Principal.UserID, in.toInput())
		}),
		rpc.Mutate(d, "updateView", rpc.User, func(ctx context.Context, r *rpc.Request, in updateViewInput) (View, error) {
			v, err := s.UpdateView(ctx, r.Principal.UserID, in.ID, in.toInput())
			return v, notFound(err, "view", in.ID)
		}),
		rpc.Mutate(d, "deleteView", rpc.User, func(ctx context.Context, r *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.DeleteView(ctx, r.Principal.UserID, in.ID), "view", in.ID)
		}),
		rpc.Mutate(d, "addSystemContact", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in addContactInput) (Contact, error) {
			c, err := s.AddContact(ctx, Contact{SystemID: in.SystemID, Type: in.Type, UserID: in.UserID, Email: in.Email, Label: in.Label})
			return c, notFound(err, "system or user", in.SystemID)
		}),
		rpc.Mutate(d, "removeSystemContact", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.RemoveContact(ctx, in.ID), "contact", in.ID)
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
)

type membershipInput struct {
	SystemID string `json:"systemId"`
	GroupID  string `json:"groupId"`
}

func (in membershipInput) Validate() error {
	return errors.Join(rpc.CheckID("systemId", in.SystemID), rpc.CheckID("groupId", in.GroupID))
}

type createSystemInput struct {
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	Owner            string          `json:"owner"`
	Metadata         json.RawMessage `json:"metadata"`
	HiddenFromStatus *bool           `json:"hiddenFromStatus"`
}

func (in createSystemInput) Validate() error {
	return rpc.FirstErr(rpc.CheckName("name", &in.Name, true, maxName), rpc.CheckText("description", &in.Description, maxDescription),
		rpc.CheckText("owner", &in.Owner, maxName), checkObject("metadata", in.Metadata))
}

func (in createSystemInput) toInput() SystemInput {
	return SystemInput{Name: &in.Name, Description: &in.Description, Owner: &in.Owner, Metadata: in.Metadata, HiddenFromStatus: in.HiddenFromStatus}
}

type updateSystemInput struct {
	ID               string          `json:"id"`
	Name             *string         `json:"name"`
	Description      *string         `json:"description"`
	Owner            *string         `json:"owner"`
	Metadata         json.RawMessage `json:"metadata"`
	HiddenFromStatus *bool           `json:"hiddenFromStatus"`
}

func (in updateSystemInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), rpc.CheckName("name", in.Name, false, maxName), rpc.CheckText("description", in.Description, maxDescription),
		rpc.CheckText("owner", in.Owner, maxName), checkObject("metadata", in.Metadata))
}

func (in updateSystemInput) toInput() SystemInput {
	return SystemInput{Name: in.Name, Description: in.Description, Owner: in.Owner, Metadata: in.Metadata, HiddenFromStatus: in.HiddenFromStatus}
}

type createGroupInput struct {
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	Metadata         json.RawMessage `json:"metadata"`
	HiddenFromStatus *bool           `json:"hiddenFromStatus"`
}

func (in createGroupInput) Validate() error {
	return rpc.FirstErr(rpc.CheckName("name", &in.Name, true, maxName), rpc.CheckText("description", &in.Description, maxDescription), checkObject("metadata", in.Metadata))
}

func (in createGroupInput) toInput() GroupInput {
	return GroupInput{Name: &in.Name, Description: &in.Description, Metadata: in.Metadata, HiddenFromStatus: in.HiddenFromStatus}
}

type updateGroupInput struct {
	ID               string          `json:"id"`
	Name             *string         `json:"name"`
	Description      *string         `json:"description"`
	Metadata         json.RawMessage `json:"metadata"`
	HiddenFromStatus *bool           `json:"hiddenFromStatus"`
}

func (in updateGroupInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), rpc.CheckName("name", in.Name, false, maxName), rpc.CheckText("description", in.Description, maxDescription), checkObject("metadata", in.Metadata))
}

func (in updateGroupInput) toInput() GroupInput {
	return GroupInput{Name: in.Name, Description: in.Description, Metadata: in.Metadata, HiddenFromStatus: in.HiddenFromStatus}
}

type createViewInput struct {
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Configuration json.RawMessage `json:"configuration"`
}

func (in createViewInput) Validate() error {
	return rpc.FirstErr(rpc.CheckName("name", &in.Name, true, maxName), rpc.CheckText("description", &in.Description, maxDescription), checkObject("configuration", in.Configuration))
}

func (in createViewInput) toInput() ViewInput {
	return ViewInput{Name: &in.Name, Description: &in.Description, Configuration: in.Configuration}
}

type updateViewInput struct {
	ID            string          `json:"id"`
	Name          *string         `json:"name"`
	Description   *string         `json:"description"`
	Configuration json.RawMessage `json:"configuration"`
}

func (in updateViewInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), rpc.CheckName("name", in.Name, false, maxName), rpc.CheckText("description", in.Description, maxDescription), checkObject("configuration", in.Configuration))
}

func (in updateViewInput) toInput() ViewInput {
	return ViewInput{Name: in.Name, Description: in.Description, Configuration: in.Configuration}
}

type addContactInput struct {
	SystemID string `json:"systemId"`
	Type     string `json:"type"`
	UserID   string `json:"userId"`
	Email    string `json:"email"`
	Label    string `json:"label"`
}

func (in addContactInput) Validate() error {
	if err := rpc.FirstErr(rpc.CheckID("systemId", in.SystemID), rpc.CheckText("label", &in.Label, maxName)); err != nil {
		return err
	}
	switch in.Type {
	case ContactUser:
		if in.Email != "" {
			return rpc.Invalid("email", "not allowed for a user contact (it is the user's)")
		}
		return rpc.CheckID("userId", in.UserID)
	case ContactMailbox:
		if in.UserID != "" {
			return rpc.Invalid("userId", "not allowed for a mailbox contact")
		}
		if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
			return rpc.Invalid("email", "must be an email address")
		}
		return nil
	case "":
		return rpc.Invalid("type", "required")
	default:
		return rpc.Invalid("type", `must be "user" or "mailbox"`)
	}
}

// checkObject accepts an absent value or a JSON object.
func checkObject(field string, raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	if b := bytes.TrimSpace(raw); len(b) == 0 || b[0] != '{' {
		return rpc.Invalid(field, "must be a JSON object")
	}
	return nil
}
