package announcement

import (
	"context"
	"errors"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

// Procedures returns the announcement API: anyone reads what is live for
// them, signed-in users dismiss, admins manage.
//
//	getActiveAnnouncements {includeDismissed?}  → {"announcements":[…]}
//	dismissAnnouncement    {announcementId}     → {}
//	listAllAnnouncements   {}                   → {"announcements":[…]}
//	createAnnouncement     {title, message, …}  → the announcement
//	updateAnnouncement     {id, …}              → the announcement
//	deleteAnnouncement     {id}                 → {}
//	reorderAnnouncements   {orderedIds}         → {}
func (s *Service) Procedures() []rpc.Procedure {
	const d = "announcement"
	return []rpc.Procedure{
		rpc.QueryObject(d, "getActiveAnnouncements", rpc.Public, "announcements", s.getActiveAnnouncements),
		rpc.Mutate(d, "dismissAnnouncement", rpc.User, s.dismissAnnouncement),

		rpc.QueryObject(d, "listAllAnnouncements", rpc.Admin, "announcements", s.listAllAnnouncements),
		rpc.Mutate(d, "createAnnouncement", rpc.Admin, s.createAnnouncement),
		rpc.Mutate(d, "updateAnnouncement", rpc.Admin, s.updateAnnouncement),
		rpc.Mutate(d, "deleteAnnouncement", rpc.Admin, s.deleteAnnouncement),
		rpc.Mutate(d, "reorderAnnouncements", rpc.Admin, s.reorderAnnouncements),
	}
}

// getActiveAnnouncements answers a caller without a user id (anonymous,
// or a satellite) with the announcements visible to all.
func (s *Service) getActiveAnnouncements(ctx context.Context, r *rpc.Request, in activeInput) ([]byte, error) {
	raw, err := s.ActiveJSON(ctx, r.Principal.UserID, in.IncludeDismissed)
	if err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Service) dismissAnnouncement(ctx context.Context, r *rpc.Request, in dismissInput) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.Dismiss(ctx, r.Principal.UserID, in.AnnouncementID), in.AnnouncementID)
}

func (s *Service) listAllAnnouncements(ctx context.Context, _ *rpc.Request, _ rpc.Empty) ([]byte, error) {
	raw, err := s.ListJSON(ctx)
	if err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Service) createAnnouncement(ctx context.Context, r *rpc.Request, in createInput) (Announcement, error) {
	return s.Create(ctx, Author{ID: r.Principal.UserID, Name: r.Principal.Name}, in.toInput())
}

func (s *Service) updateAnnouncement(ctx context.Context, _ *rpc.Request, in updateInput) (Announcement, error) {
	a, err := s.Update(ctx, in.ID, in.toInput())
	return a, notFound(err, in.ID)
}

func (s *Service) deleteAnnouncement(ctx context.Context, _ *rpc.Request, in rpc.ByID) (rpc.Empty, error) {
	return rpc.Empty{}, notFound(s.Delete(ctx, in.ID), in.ID)
}

func (s *Service) reorderAnnouncements(ctx context.Context, _ *rpc.Request, in reorderInput) (rpc.Empty, error) {
	return rpc.Empty{}, s.Reorder(ctx, in.OrderedIDs)
}

func notFound(err error, id string) error {
	if errors.Is(err, ErrNotFound) {
		return rpc.NotFound("announcement", id)
	}
	return err
}

// Inputs and their validation (the rules themselves are Input.validate's
// and checkOrder's, shared with the Go API).

type activeInput struct {
	IncludeDismissed bool `json:"includeDismissed"`
}

type dismissInput struct {
	AnnouncementID string `json:"announcementId"`
}

func (in dismissInput) Validate() error { return rpc.CheckID("announcementId", in.AnnouncementID) }

// fields are the settable fields, shared by create and update.
// startsAt and expiresAt may be null: no start, no expiry.
type fields struct {
	Title       *string                `json:"title"`
	Message     *string                `json:"message"`
	Severity    *Severity              `json:"severity"`
	Visibility  *Visibility            `json:"visibility"`
	DisplayMode *DisplayMode           `json:"displayMode"`
	Active      *bool                  `json:"active"`
	StartsAt    rpc.Nullable[rpc.Time] `json:"startsAt"`
	ExpiresAt   rpc.Nullable[rpc.Time] `json:"expiresAt"`
}

func (f fields) toInput() Input {
	return Input{Title: f.Title, Message: f.Message, Severity: f.Severity, Visibility: f.Visibility,
		DisplayMode: f.DisplayMode, Active: f.Active, StartsAt: nullableTime(f.StartsAt), ExpiresAt: nullableTime(f.ExpiresAt)}
}

func nullableTime(n rpc.Nullable[rpc.Time]) **time.Time {
	if !n.Set {
		return nil
	}
	var t *time.Time
	if !n.Null {
		t = &n.Value.Time
	}
	return &t
}

type createInput struct {
	fields
}

func (in createInput) Validate() error { return in.toInput().validate(true) }

type updateInput struct {
	ID string `json:"id"`
	fields
}

func (in updateInput) Validate() error {
	return rpc.FirstErr(rpc.CheckID("id", in.ID), in.toInput().validate(false))
}

type reorderInput struct {
	OrderedIDs []string `json:"orderedIds"`
}

func (in reorderInput) Validate() error { return checkOrder(in.OrderedIDs) }
