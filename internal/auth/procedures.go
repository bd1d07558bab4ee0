package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/checkstack/checkstack/internal/rpc"
)

const domain = "auth"

// LoginInput is login's input.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Validate implements rpc.Validator.
func (in *LoginInput) Validate() error {
	if strings.TrimSpace(in.Email) == "" {
		return rpc.Invalid("email", "required")
	}
	if in.Password == "" {
		return rpc.Invalid("password", "required")
	}
	return nil
}

// UserOutput is the output of login and createUser.
type UserOutput struct {
	User User `json:"user"`
}

// KeysOutput is listKeys's output.
type KeysOutput struct {
	Keys []Key `json:"keys"`
}

// CreateKeyInput is createKey's input.
type CreateKeyInput struct {
	Name string `json:"name"`
}

// Validate implements rpc.Validator.
func (in *CreateKeyInput) Validate() error { return validateKeyName(strings.TrimSpace(in.Name)) }

// CreateKeyOutput is createKey's output: the key as listed, and its secret,
// shown this once.
type CreateKeyOutput struct {
	Key    Key    `json:"key"`
	Secret string `json:"secret"`
}

// IDInput names a key (revokeKey) or a user (deleteUser).
type IDInput struct {
	ID string `json:"id"`
}

// Validate implements rpc.Validator.
func (in *IDInput) Validate() error {
	if in.ID == "" {
		return rpc.Invalid("id", "required")
	}
	return nil
}

// SetRoleInput is setUserRole's input.
type SetRoleInput struct {
	ID   string   `json:"id"`
	Role rpc.Role `json:"role"`
}

// Validate implements rpc.Validator.
func (in *SetRoleInput) Validate() error {
	if in.ID == "" {
		return rpc.Invalid("id", "required")
	}
	if in.Role != rpc.RoleAdmin && in.Role != rpc.RoleUser {
		return rpc.Invalid("role", fmt.Sprintf("must be %q or %q", rpc.RoleAdmin, rpc.RoleUser))
	}
	return nil
}

// UsersOutput is listUsers's output.
type UsersOutput struct {
	Users []User `json:"users"`
}

// CreateUserInput is createUser's input. Role "" means "user".
type CreateUserInput struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Role     rpc.Role `json:"role,omitempty"`
}

// Validate implements rpc.Validator.
func (in *CreateUserInput) Validate() error {
	role := in.Role
	if role == "" {
		role = rpc.RoleUser
	}
	return validateNewUser(normalizeEmail(in.Email), strings.TrimSpace(in.Name), in.Password, role)
}

// Procedures returns the auth domain's procedures:
//
//	login       public  mutation  {email, password} → {user}, sets the session cookie
//	logout      public  mutation  {} → {}, ends the session and clears the cookie
//	me          user    read      {} → User
//	listKeys    user    read      {} → {keys}: the caller's own
//	createKey   user    mutation  {name} → {key, secret}
//	revokeKey   user    mutation  {id} → {}: own keys; admins, any
//	listUsers   admin   read      {} → {users}
//	createUser  admin   mutation  {email, name, password, role?} → {user}
//	deleteUser  admin   mutation  {id} → {}: not oneself
//	setUserRole admin   mutation  {id, role} → {user}: not the last admin to user
func (s *Service) Procedures() []rpc.Procedure {
	return []rpc.Procedure{
		rpc.Mutate(domain, "login", rpc.Public, s.loginProc),
		rpc.Mutate(domain, "logout", rpc.Public, s.logoutProc),
		rpc.Query(domain, "me", rpc.User, s.meProc),
		rpc.Query(domain, "listKeys", rpc.User, s.listKeysProc),
		rpc.Mutate(domain, "createKey", rpc.User, s.createKeyProc),
		rpc.Mutate(domain, "revokeKey", rpc.User, s.revokeKeyProc),
		rpc.Query(domain, "listUsers", rpc.Admin, s.listUsersProc),
		rpc.Mutate(domain, "createUser", rpc.Admin, s.createUserProc),
		rpc.Mutate(domain, "deleteUser", rpc.Admin, s.deleteUserProc),
		rpc.Mutate(domain, "setUserRole", rpc.Admin, s.setUserRoleProc),
	}
}

func (s *Service) loginProc(ctx context.Context, r *rpc.Request, in LoginInput) (UserOutput, error) {
	u, token, expires, err := s.login(ctx, in.Email, in.Password, r.RemoteAddr)
	if err != nil {
		return UserOutput{}, err
	}
	r.SetCookie(s.sessionCookie(token, expires))
	return UserOutput{User: u}, nil
}

func (s *Service) logoutProc(ctx context.Context, r *rpc.Request, _ rpc.Empty) (struct{}, error) {
	if token := s.cookieToken(r.HTTP); token != "" {
		if err := s.deleteSession(ctx, token); err != nil {
			return struct{}{}, err
		}
	}
	r.SetCookie(s.sessionCookie("", s.now()))
	return struct{}{}, nil
}

func (s *Service) meProc(ctx context.Context, r *rpc.Request, _ rpc.Empty) (User, error) {
	u, err := s.GetUser(ctx, r.Principal.UserID)
	if errors.Is(err, ErrNotFound) {
		// Deleted since the request was authenticated.
		return User{}, rpc.Unauthorized("not signed in")
	}
	return u, err
}

func (s *Service) listKeysProc(ctx context.Context, r *rpc.Request, _ rpc.Empty) (KeysOutput, error) {
	keys, err := s.ListKeys(ctx, r.Principal.UserID)
	if err != nil {
		return KeysOutput{}, err
	}
	return KeysOutput{Keys: keys}, nil
}

func (s *Service) createKeyProc(ctx context.Context, r *rpc.Request, in CreateKeyInput) (CreateKeyOutput, error) {
	secret, k, err := s.CreateKey(ctx, r.Principal.UserID, in.Name)
	if errors.Is(err, ErrNotFound) {
		return CreateKeyOutput{}, rpc.Unauthorized("not signed in")
	}
	if err != nil {
		return CreateKeyOutput{}, err
	}
	return CreateKeyOutput{Key: k, Secret: secret}, nil
}

func (s *Service) revokeKeyProc(ctx context.Context, r *rpc.Request, in IDInput) (struct{}, error) {
	err := s.RevokeKey(ctx, in.ID, r.Principal)
	if errors.Is(err, ErrNotFound) {
		return struct{}{}, rpc.NotFound("key", in.ID)
	}
	return struct{}{}, err
}

func (s *Service) listUsersProc(ctx context.Context, _ *rpc.Request, _ rpc.Empty) (UsersOutput, error) {
	users, err := s.ListUsers(ctx)
	if err != nil {
		return UsersOutput{}, err
	}
	return UsersOutput{Users: users}, nil
}

func (s *Service) createUserProc(ctx context.Context, _ *rpc.Request, in CreateUserInput) (UserOutput, error) {
	u, err := s.CreateUser(ctx, in.Email, in.Name, in.Password, in.Role)
	if errors.Is(err, ErrEmailTaken) {
		return UserOutput{}, rpc.Conflict("a user with that email already exists")
	}
	if err != nil {
		return UserOutput{}, err
	}
	return UserOutput{User: u}, nil
}

func (s *Service) deleteUserProc(ctx context.Context, r *rpc.Request, in IDInput) (struct{}, error) {
	if in.ID == r.Principal.UserID {
		return struct{}{}, rpc.Conflict("you cannot delete your own account")
	}
	err := s.DeleteUser(ctx, in.ID)
	if errors.Is(err, ErrNotFound) {
		return struct{}{}, rpc.NotFound("user", in.ID)
	}
	return struct{}{}, err
}

func (s *Service) setUserRoleProc(ctx context.Context, _ *rpc.Request, in SetRoleInput) (UserOutput, error) {
	err := s.SetRole(ctx, in.ID, in.Role)
	if errors.Is(err, ErrNotFound) {
		return UserOutput{}, rpc.NotFound("user", in.ID)
	}
	if err != nil {
		return UserOutput{}, err
	}
	u, err := s.GetUser(ctx, in.ID)
	if errors.Is(err, ErrNotFound) {
		return UserOutput{}, rpc.NotFound("user", in.ID) // deleted meanwhile
	}
	return UserOutput{User: u}, err
}
