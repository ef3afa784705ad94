// Package awsquery is the AWS Query protocol server of the rds service
// (API version 2014-10-31): it dispatches on Action and Version, decodes each
// operation's input from a form body or a query string, encodes the
// <Op>Response/<Op>Result and ErrorResponse XML documents of spec §1.3–§1.5,
// maps error codes to HTTP statuses and assigns request IDs. There is one
// file per Action.
//
// It calls the operations through the Service interface it owns and reads
// the caller from the request context (export.CallerFrom); it does not
// verify signatures (package sigv4 does, in front of the handler). It must
// not import database drivers, storage or engine packages, or the AWS SDK.
package awsquery
