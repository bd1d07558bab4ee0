module github.com/checkstack/checkstack/bench

go 1.26.0

require (
	github.com/checkstack/checkstack v0.0.0
	github.com/maypok86/otter/v2 v2.4.0
	github.com/viccon/sturdyc v1.1.5
	golang.org/x/sync v0.25.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/btree v1.1.3 // indirect
)

replace github.com/checkstack/checkstack => ../
