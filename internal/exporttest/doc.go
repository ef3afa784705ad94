// Package exporttest holds the conformance suites and fixtures shared by the
// tests of every implementation of a seam: StoreSuite for export.Store,
// SnapshotStoreSuite for export.SnapshotStore, and the suites for sources and
// object stores. Each implementation's test calls
// its suite, so all of them are held to one contract.
//
// It is imported only by _test files. It depends on export and engine (the
// seams it checks), pgx for PostgreSQL test databases, and the versitygw
// binary for a third-party S3 server; never on one of our adapters.
package exporttest
