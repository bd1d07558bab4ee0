package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/rpc"
)

// Procedures returns the notification API. Each signed-in user reads and
// changes only their own inbox, subscriptions and channel preferences:
// the user comes from the caller, never from the input. Admins send
// notifications, configure channels and read the delivery log.
func (s *Service) Procedures() []rpc.Procedure {
	const d = "notification"
	return []rpc.Procedure{
		// The inbox's reads answer with their cache entries' bytes (see
		// rpc.QueryJSON).
		rpc.QueryJSON(d, "getNotifications", rpc.User, func(ctx context.Context, r *rpc.Request, in pageInput) ([]byte, error) {
			f := in.filter()
			return cache.WrapJSON(ctx, s.cache, keyNotifs(r.Principal.UserID, f), s.loadPage(r.Principal.UserID, f))
		}),
		rpc.QueryObject(d, "getUnreadCount", rpc.User, "count", func(ctx context.Context, r *rpc.Request, _ rpc.Empty) ([]byte, error) {
			return cache.WrapJSON(ctx, s.cache, keyUnread(r.Principal.UserID), s.loadUnread(r.Principal.UserID))
		}),
		rpc.Mutate(d, "markAsRead", rpc.User, func(ctx context.Context, r *rpc.Request, in markInput) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.MarkRead(ctx, r.Principal.UserID, in.NotificationID), "notification", in.NotificationID)
		}),
		rpc.Mutate(d, "deleteNotification", rpc.User, func(ctx context.Context, r *rpc.Request, in notificationIDInput) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.Delete(ctx, r.Principal.UserID, in.NotificationID), "notification", in.NotificationID)
		}),
		rpc.Query(d, "getGroups", rpc.User, func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) (map[string][]Group, error) {
			gs, err := s.Groups(ctx)
			return map[string][]Group{"groups": gs}, err
		}),
		rpc.QueryObject(d, "getSubscriptions", rpc.User, "subscriptions", func(ctx context.Context, r *rpc.Request, _ rpc.Empty) ([]byte, error) {
			return cache.WrapJSON(ctx, s.cache, keySubs(r.Principal.UserID), s.loadSubs(r.Principal.UserID))
		}),
		rpc.Mutate(d, "subscribe", rpc.User, func(ctx context.Context, r *rpc.Request, in groupInput) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.Subscribe(ctx, r.Principal.UserID, in.GroupID), "group", in.GroupID)
		}),
		rpc.Mutate(d, "unsubscribe", rpc.User, func(ctx context.Context, r *rpc.Request, in groupInput) (rpc.Empty, error) {
			return rpc.Empty{}, notFound(s.Unsubscribe(ctx, r.Principal.UserID, in.GroupID), "group", in.GroupID)
		}),
		rpc.Query(d, "getChannelPreferences", rpc.User, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (map[string][]Preference, error) {
			ps, err := s.Preferences(ctx, r.Principal.UserID)
			return map[string][]Preference{"preferences": ps}, err
		}),
		rpc.Mutate(d, "setChannelPreference", rpc.User, func(ctx context.Context, r *rpc.Request, in preferenceInput) (rpc.Empty, error) {
			return rpc.Empty{}, s.SetPreference(ctx, r.Principal.UserID, in.Channel, *in.Enabled)
		}),

		rpc.Mutate(d, "notifyUsers", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in notifyUsersInput) (sentOutput, error) {
			ns, err := s.NotifyUsers(ctx, in.UserIDs, in.Notification.message())
			return sent(ns), missing(err)
		}),
		rpc.Mutate(d, "notifyGroups", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in notifyGroupsInput) (sentOutput, error) {
			ns, err := s.NotifyGroups(ctx, in.GroupIDs, in.Notification.message())
			return sent(ns), missing(err)
		}),
		rpc.Query(d, "getChannels", rpc.Admin, func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) (map[string][]ChannelView, error) {
			cs, err := s.ChannelsConfig(ctx)
			return map[string][]ChannelView{"channels": cs}, err
		}),
		rpc.Mutate(d, "configureChannel", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in channelInput) (ChannelView, error) {
			return s.ConfigureChannel(ctx, ChannelInput{Channel: in.Channel, Enabled: *in.Enabled, Config: in.Config})
		}),
		rpc.Query(d, "getDeliveries", rpc.Admin, func(ctx context.Context, _ *rpc.Request, in deliveriesInput) (map[string]any, error) {
			ds, total, err := s.Deliveries(ctx, in.filter())
			return map[string]any{"deliveries": ds, "total": total}, err
		}),
	}
}

func notFound(err error, what, id string) error {
	if errors.Is(err, ErrNotFound) {
		return rpc.NotFound(what, id)
	}
	return err
}

// missing maps a missingError to the caller's error: an unknown user is
// bad input (the ids are the caller's), an unknown group is not found.
func missing(err error) error {
	var m *missingError
	if !errors.As(err, &m) {
		return err
	}
	if errors.Is(m.err, ErrUnknownUser) {
		return rpc.Invalid("userIds", fmt.Sprintf("user %q does not exist", m.id))
	}
	return rpc.NotFound(m.what, m.id)
}

type sentOutput struct {
	Count           int      `json:"count"`
	NotificationIDs []string `json:"notificationIds"`
}

func sent(ns []Notification) sentOutput {
	out := sentOutput{Count: len(ns), NotificationIDs: make([]string, len(ns))}
	for i, n := range ns {
		out.NotificationIDs[i] = n.ID
	}
	return out
}

// Inputs and their validation.

const (
	defaultLimit = 20
	maxLimit     = 100
	maxOffset    = 1_000_000
	maxTitle     = 200
	maxBody      = 10_000
	maxLabel     = 100
	maxURL       = 2048
	maxTargets   = 1000
)

type pageInput struct {
	Limit      *int `json:"limit"`
	Offset     int  `json:"offset"`
	UnreadOnly bool `json:"unreadOnly"`
}

func (in pageInput) Validate() error {
	switch {
	case in.Limit != nil && (*in.Limit < 1 || *in.Limit > maxLimit):
		return rpc.Invalid("limit", fmt.Sprintf("must be between 1 and %d", maxLimit))
	case in.Offset < 0 || in.Offset > maxOffset:
		return rpc.Invalid("offset", fmt.Sprintf("must be between 0 and %d", maxOffset))
	}
	return nil
}

// filter is the input with its defaults applied, so that equal filters
// make equal cache keys whether a field was given or left to default.
func (in pageInput) filter() Filter {
	f := Filter{Limit: defaultLimit, Offset: in.Offset, UnreadOnly: in.UnreadOnly}
	if in.Limit != nil {
		f.Limit = *in.Limit
	}
	return f
}

type markInput struct {
	NotificationID string `json:"notificationId"` // "" = all
}

func (in markInput) Validate() error {
	if in.NotificationID == "" {
		return nil
	}
	return rpc.CheckID("notificationId", in.NotificationID)
}

type notificationIDInput struct {
	NotificationID string `json:"notificationId"`
}

func (in notificationIDInput) Validate() error {
	return rpc.CheckID("notificationId", in.NotificationID)
}

type groupInput struct {
	GroupID string `json:"groupId"`
}

func (in groupInput) Validate() error { return rpc.CheckID("groupId", in.GroupID) }

type preferenceInput struct {
	Channel string `json:"channel"`
	Enabled *bool  `json:"enabled"`
}

func (in preferenceInput) Validate() error {
	if !knownChannel(in.Channel) {
		return rpc.Invalid("channel", fmt.Sprintf("must be one of %v", Channels))
	}
	if in.Enabled == nil {
		return rpc.Invalid("enabled", "required")
	}
	return nil
}

type messageInput struct {
	Title      string  `json:"title"`
	Body       string  `json:"body"`
	Importance string  `json:"importance"`
	Action     *Action `json:"action"`
}

func (in messageInput) validate(field string) error {
	if err := rpc.FirstErr(rpc.CheckName(field+".title", &in.Title, true, maxTitle), rpc.CheckText(field+".body", &in.Body, maxBody)); err != nil {
		return err
	}
	switch Importance(in.Importance) {
	case "", Info, Warning, Critical:
	default:
		return rpc.Invalid(field+".importance", `must be "info", "warning" or "critical"`)
	}
	if in.Action != nil {
		if err := rpc.CheckName(field+".action.label", &in.Action.Label, true, maxLabel); err != nil {
			return err
		}
		if !validActionURL(in.Action.URL) {
			return rpc.Invalid(field+".action.url", "must be an http(s) URL or a path starting with /")
		}
	}
	return nil
}

// validActionURL accepts an absolute http(s) URL or a path within the
// application; never a script or data URL.
func validActionURL(s string) bool {
	if s == "" || len(s) > maxURL || strings.ContainsAny(s, "\r\n\t ") {
		return false
	}
	if strings.HasPrefix(s, "/") {
		return !strings.HasPrefix(s, "//") // not scheme-relative
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (in messageInput) message() Message {
	return Message{Title: in.Title, Body: in.Body, Importance: Importance(in.Importance), Action: in.Action}
}

type notifyUsersInput struct {
	UserIDs      []string     `json:"userIds"`
	Notification messageInput `json:"notification"`
}

func (in notifyUsersInput) Validate() error {
	return rpc.FirstErr(rpc.CheckIDs("userIds", in.UserIDs, maxTargets), in.Notification.validate("notification"))
}

type notifyGroupsInput struct {
	GroupIDs     []string     `json:"groupIds"`
	Notification messageInput `json:"notification"`
}

func (in notifyGroupsInput) Validate() error {
	return rpc.FirstErr(rpc.CheckIDs("groupIds", in.GroupIDs, maxTargets), in.Notification.validate("notification"))
}

type channelInput struct {
	Channel string          `json:"channel"`
	Enabled *bool           `json:"enabled"`
	Config  json.RawMessage `json:"config"` // the channel's own config: delivery.WebhookConfig or delivery.EmailConfig
}

func (in channelInput) Validate() error {
	if !knownChannel(in.Channel) {
		return rpc.Invalid("channel", fmt.Sprintf("must be one of %v", Channels))
	}
	if in.Enabled == nil {
		return rpc.Invalid("enabled", "required")
	}
	if len(in.Config) == 0 || string(in.Config) == "null" {
		return rpc.Invalid("config", "required")
	}
	return nil
}

type deliveriesInput struct {
	Channel string `json:"channel"`
	Status  string `json:"status"`
	Limit   *int   `json:"limit"`
	Offset  int    `json:"offset"`
}

func (in deliveriesInput) Validate() error {
	if in.Channel != "" && !knownChannel(in.Channel) {
		return rpc.Invalid("channel", fmt.Sprintf("must be one of %v", Channels))
	}
	switch in.Status {
	case "", StatusPending, StatusDelivered, StatusFailed, StatusSkipped:
	default:
		return rpc.Invalid("status", "must be pending, delivered, failed or skipped")
	}
	return pageInput{Limit: in.Limit, Offset: in.Offset}.Validate()
}

func (in deliveriesInput) filter() DeliveryFilter {
	f := DeliveryFilter{Channel: in.Channel, Status: in.Status, Limit: defaultLimit, Offset: in.Offset}
	if in.Limit != nil {
		f.Limit = *in.Limit
	}
	return f
}
