package incident

import "github.com/checkstack/checkstack/cache"

// The incident cache: scope "incident", 15 s TTL.
//
//	incident:<id>                   getIncident (with its timeline)
//	system:<systemId>               getIncidentsForSystem, and each system of
//	                                getBulkIncidentsForSystems: the system's
//	                                unresolved incidents, as JSON
//	list:<status>:r<0|1>:<systemId> listIncidents, one entry per filter
//
// Ids and filter values are escaped (cache.Part), so no key is a prefix of
// another's and two different filters never share a key. Every mutation
// drops the incident, every system it had before and after the change, and
// every list, before its signal.
const (
	scopeName = "incident"
	listFam   = "list:"
)

func keyIncident(id string) string { return cache.Key("incident", id) }

// famSystem is the family of the per-system entries, which bulk reads find by id.
const famSystem cache.Family = "system"

func keySystem(id string) string { return famSystem.Key(id) }

func keyList(f Filter) string {
	resolved := "r0"
	if f.IncludeResolved {
		resolved = "r1"
	}
	return cache.Key("list", string(f.Status), resolved, f.SystemID)
}
