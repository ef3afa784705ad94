// Package mysqlsource implements engine.Source for MySQL, MariaDB and
// Aurora MySQL on go-sql-driver/mysql.
//
// It owns everything MySQL-specific about an export: the consistent point
// in time shared by several connections (FLUSH TABLES WITH READ LOCK while
// every reader starts a consistent-snapshot transaction, as mydumper does),
// the information_schema queries that list databases, tables, partitions,
// columns and primary keys, the split of big tables into integer primary
// key ranges read by several connections at once, the type mapping of spec
// §9.1, and the decoding of text protocol rows into Arrow record batches.
// On a connection without TLS, a table's rows are read off the socket by
// the package's own reader of the text protocol's result set (wire.go):
// the driver hands every value over boxed in a driver.Value, a heap
// allocation per value. Through TLS, which the driver owns, they are read
// through the driver.
//
// # Source URL
//
//	mysql://user:password@host:port/?tls=preferred&timeout=10s
//
// The user and password are percent-decoded; the port defaults to 3306;
// a database in the path is accepted and ignored (every database of the
// server is listed). Query parameters:
//
//	tls      false (default): no TLS.
//	         true: TLS, verifying the certificate against host.
//	         skip-verify: TLS without certificate verification.
//	         preferred: TLS without verification when the server offers
//	         it, plain text otherwise.
//	timeout  dial timeout as a Go duration (default: Params.ConnectTimeout).
//
// Any other parameter is rejected with ErrInvalidURL. Every connection uses
// the utf8mb4 character set (utf8mb4_general_ci), so text in any column
// character set (latin1, cp1251, ...) arrives as UTF-8, and the session
// time zone '+00:00', so TIMESTAMP values arrive in UTC.
//
// It imports engine (the seam it implements), the MySQL driver and Arrow;
// it must not import any other adapter (pgsource, parquetfile, s3objects,
// ...).
package mysqlsource
