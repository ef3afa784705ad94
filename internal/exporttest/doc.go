// Package exporttest holds the conformance suites and fixtures shared by the
// tests of every implementation of a seam: StoreSuite for export.Store, and
// the suites for sources and object stores. Each implementation's test calls
// its suite, so all of them are held to one contract.
//
// It is imported only by _test files. It depends on export and the standard
// library's testing package, never on an adapter.
package exporttest
