package maintenance

import "github.com/checkstack/checkstack/cache"

// The maintenance cache: scope "maintenance", 15 s TTL.
//
//	maintenance:<id>        getMaintenance (with its timeline)
//	system:<systemId>       getMaintenancesForSystem, and each system of
//	                        getBulkMaintenancesForSystems: the system's
//	                        scheduled and in-progress windows, as JSON; also
//	                        what health reads say "under maintenance" from
//	list:<status>:<systemId> listMaintenances, one entry per filter
//
// Ids and filter values are escaped (cache.Part). Every mutation and every
// transition the clock makes drops the window, every system it had before
// and after, and every list, before its signal.
const (
	scopeName = "maintenance"
	listFam   = "list:"
)

func keyWindow(id string) string { return cache.Key("maintenance", id) }

// famSystem is the family of the per-system entries, which bulk reads find by id.
const famSystem cache.Family = "system"

func keySystem(id string) string { return famSystem.Key(id) }

func keyList(f Filter) string { return cache.Key("list", string(f.Status), f.SystemID) }
