package anomaly

import (
	"strconv"

	"github.com/checkstack/checkstack/cache"
)

// The anomaly cache: scope "anomaly", 15 s TTL.
//
//	list:<system>:<check>:<state>:<kind>:<suppression>:<limit>  getAnomalies, per filter
//	system:<system>              getBulkAnomaliesForSystems: the system's open, unsuppressed anomalies, as JSON
//	open:<system>:<check>        the open episodes detection compares a run with
//	baselines:<system>:<check>   getAnomalyBaselines, and detection
//	settings:<check>             a check's settings
//	assign:<system>:<check>      an assignment's settings
//	mutes:<user>                 listAnomalyMutes
//
// Every part from a request is escaped (cache.Part), so no key is a prefix
// of another's. Each transition drops the system's entry, the pair's open
// episodes and every list; a baseline update drops the pair's baselines; a
// settings change drops the settings it changed.
const (
	scopeName = "anomaly"
	listFam   = "list:"
)

// famSystem is the family of the per-system entries, which bulk reads find by id.
const famSystem cache.Family = "system"

func keySystem(id string) string               { return famSystem.Key(id) }
func keyOpen(systemID, configID string) string { return cache.Key("open", systemID, configID) }
func keyBaselines(systemID, configID string) string {
	return cache.Key("baselines", systemID, configID)
}
func keySettings(configID string) string         { return cache.Key("settings", configID) }
func keyAssign(systemID, configID string) string { return cache.Key("assign", systemID, configID) }
func keyMutes(userID string) string              { return cache.Key("mutes", userID) }

func keyList(f Filter) string {
	return cache.Key("list", f.SystemID, f.ConfigurationID, string(f.State), string(f.Kind), string(f.Suppression), strconv.Itoa(f.Limit))
}
