package catalog

import "context"

// OnSystemSaved registers fn to run after a system is created or updated
// (and the cache dropped), for other domains that follow systems.
func (s *Service) OnSystemSaved(fn func(ctx context.Context, sys System)) { s.systemSaved.Add(fn) }

// OnSystemDeleted registers fn to run after a system is deleted (and its
// cache entries dropped), for other domains to clean up.
func (s *Service) OnSystemDeleted(fn func(ctx context.Context, systemID string)) {
	s.systemDeleted.Add(fn)
}

// OnGroupSaved registers fn to run after a group is created or updated.
func (s *Service) OnGroupSaved(fn func(ctx context.Context, g Group)) { s.groupSaved.Add(fn) }

// OnGroupDeleted registers fn to run after a group is deleted.
func (s *Service) OnGroupDeleted(fn func(ctx context.Context, groupID string)) {
	s.groupDeleted.Add(fn)
}
