package export

import "context"

// Caller is who sent a request, as established by signature verification:
// the account the access key belongs to and the region of the credential
// scope (used in the ARNs the server mints).
type Caller struct {
	AccessKeyID string
	AccountID   string
	Region      string
}

// DefaultRegion is the region of the ARNs the server mints when neither a
// request nor the configuration names one (spec §1.2), and the signing
// region of an S3-compatible store configured without one.
const DefaultRegion = "us-east-1"

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored in ctx, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
