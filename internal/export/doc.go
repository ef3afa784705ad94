// Package export is the vocabulary of rdsexport: export tasks, their
// statuses and legal transitions, the errors the RDS API reports, and the
// Store that keeps tasks durable.
//
// It imports only the standard library. Every other package depends on it;
// it depends on none of them. Read this package first.
package export
