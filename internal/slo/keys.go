package slo

import "github.com/checkstack/checkstack/cache"

// The SLO cache: scope "slo", 15 s TTL. Every value includes the status
// computed from the events and live health, the costly part of a read.
//
//	list:objectives      listObjectives
//	objective:<id>       getObjective
//	system:<systemId>    getObjectivesForSystem, and each system of
//	                     getBulkObjectivesForSystems, so that dashboards
//	                     asking for overlapping sets share entries
//
// Ids are escaped (cache.Part), so no id's key is a prefix of another's.
const (
	scopeName    = "slo"
	keyList      = "list:objectives"
	objectiveFam = "objective:"
)

func keyObjective(id string) string { return cache.Key("objective", id) }
func keySystem(id string) string    { return cache.Key("system", id) }
