// Package bench compares package cache with other Go caching libraries on
// the same workloads, in one run, so that the ratios between them mean
// something on a shared machine. It is its own module: the libraries it
// compares against are not dependencies of checkstack.
//
// The benchmarks are in bench_test.go; README.md has the command, and
// docs/BENCHMARKS.md the figures.
package bench
