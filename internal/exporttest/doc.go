// Package exporttest holds the conformance suites and fixtures shared by the
// tests of every implementation of a seam: StoreSuite for export.Store,
// SnapshotStoreSuite for export.SnapshotStore, EventStoreSuite for the
// events a store records with its changes, CountsSuite for the counts
// behind the metrics' gauges, and the suites for sources and object
// stores. Each implementation's test calls its suite, so all of them are
// held to one contract.
//
// It is imported only by _test files. It depends on export and engine (the
// seams it checks), pgx for PostgreSQL test databases, and the versitygw
// binary for a third-party S3 server; never on one of our adapters.
package exporttest
