package catalog

import "github.com/checkstack/checkstack/cache"

// The catalog's cache: scope "catalog".
//
// Topology reads all join the same tables, so they share one family,
// "entity:", which any system, group or membership mutation drops whole.
// Views and contacts have families of their own, dropped only by their own
// mutations.
const (
	scopeName  = "catalog"
	entityTTL  = 25 // seconds, for every family
	entityFam  = "entity:"
	keyEntity  = entityFam + "entities"
	keySystems = entityFam + "systems"
	keyGroups  = entityFam + "groups"
	keyPublic  = entityFam + "public" // what the public status page shows
	contactFam = "contacts:"
)

func keySystem(id string) string       { return entityFam + cache.Key("system", id) }
func keySystemGroups(id string) string { return entityFam + cache.Key("systemGroups", id) }
func keyViews(userID string) string    { return cache.Key("views", userID) }
func keyContacts(systemID string) string {
	return contactFam + cache.Part(systemID)
}
