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
