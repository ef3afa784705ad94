// Package pgsource implements engine.Source for PostgreSQL on pgx v5.
//
// It owns everything PostgreSQL-specific about an export: the list of
// databases of a server (a "cluster" in RDS terms), one exported snapshot
// per database so that every connection reads the same moment
// (pg_export_snapshot / SET TRANSACTION SNAPSHOT), the catalog queries that
// list tables, partitions and columns, the type mapping of spec §9.2, and
// the streaming decoder of COPY text output into Arrow record batches.
//
// It imports engine (the seam it implements), pgx and Arrow; it must not
// import any other adapter (mysqlsource, parquetfile, s3objects, ...).
package pgsource
