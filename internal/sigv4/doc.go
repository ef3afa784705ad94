// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests,
// in the Authorization header form and the presigned query-string form, and
// reports who signed them. It owns CredentialLookup, the seam through which
// it learns secret keys.
//
// The expected signature is computed by the aws-sdk-go-v2 signer itself, so
// that client and server canonicalise requests the same way, and compared in
// constant time. Secrets and signatures are never logged or returned.
//
// It knows nothing about RDS or S3 operations: it must not import the
// service, awsquery, engine or any storage package. Its errors are
// *export.Error values carrying the AWS common error codes.
package sigv4
