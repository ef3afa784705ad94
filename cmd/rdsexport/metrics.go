package main

import (
	"crypto/subtle"
	"net/http"
)

// metricsAuth guards /metrics. The metrics cover every account, so only
// the server's own account may read them: HTTP basic authentication with
// one of its access keys (user: the access key ID, password: the secret
// key), as Prometheus's basic_auth sends it. Config metrics.public serves
// them to anyone instead.
type metricsAuth struct {
	public bool
	keys   map[string]string // access key ID → secret, the server's account's
	next   http.Handler
}

func newMetricsAuth(cfg Config, next http.Handler) *metricsAuth {
	a := &metricsAuth{public: cfg.Metrics.Public, keys: map[string]string{}, next: next}
	for _, c := range cfg.Credentials {
		if c.AccountID == "" || c.AccountID == cfg.AccountID {
			a.keys[c.AccessKeyID] = c.SecretAccessKey
		}
	}
	return a
}

func (a *metricsAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !a.public && !a.allowed(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="rdsexport metrics", charset="UTF-8"`)
		http.Error(w, "unauthorized: basic authentication with an access key of the server's account is required", http.StatusUnauthorized)
		return
	}
	a.next.ServeHTTP(w, r)
}

// allowed reports whether r's basic credentials are a key of the server's
// account. The secret is compared in constant time.
func (a *metricsAuth) allowed(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	secret, known := a.keys[user]
	if !known {
		// Compare anyway, so that the time taken does not tell known
		// key IDs from unknown ones.
		secret = "\x00"
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(secret)) == 1 && known
}
