package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials finds the secret and account of an access key; the
// configured credentials implement it (as for SigV4).
type Credentials interface {
	SecretFor(accessKeyID string) (secret, accountID string, ok bool)
}

// cookieName is the session cookie. Its value is
// base64url(access key ID) "." expiry (Unix seconds) "." nonce (hex) "."
// base64url(HMAC-SHA256 of what precedes, under the process's key).
const cookieName = "rdsexport_console"

// session is a signed-in key.
type session struct {
	AccessKeyID string
	AccountID   string
	Expires     time.Time
	nonce       string
}

// sessions signs and checks session cookies and CSRF tokens. The key is
// random per process: a restart signs every session out, and no key needs
// to be configured, stored or rotated.
type sessions struct {
	key   []byte
	ttl   time.Duration
	creds Credentials
	now   func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // signed-out nonces until their expiry
}

func newSessions(creds Credentials, ttl time.Duration, now func() time.Time) *sessions {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return &sessions{key: key, ttl: ttl, creds: creds, now: now, revoked: map[string]time.Time{}}
}

func (s *sessions) mac(kind, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// dummySecret is compared with when the key ID is unknown, so that an
// unknown key takes the time a wrong secret takes.
var dummySecret = strings.Repeat("x", 40)

// signIn checks an access key ID and secret in constant time and returns
// the session they open.
func (s *sessions) signIn(accessKeyID, secret string) (*session, bool) {
	want, account, ok := s.creds.SecretFor(accessKeyID)
	if !ok {
		want = dummySecret
	}
	// Hashes first: ConstantTimeCompare returns early on unequal lengths.
	a, b := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 || !ok || accessKeyID == "" {
		return nil, false
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	return &session{AccessKeyID: accessKeyID, AccountID: account,
		Expires: s.now().Add(s.ttl).Truncate(time.Second), nonce: hex.EncodeToString(nonce)}, true
}

// cookie returns the session cookie of sess: HttpOnly, SameSite=Strict,
// limited to /console/, Secure when the request came over TLS.
func (s *sessions) cookie(r *http.Request, sess *session) *http.Cookie {
	payload := base64.RawURLEncoding.EncodeToString([]byte(sess.AccessKeyID)) + "." +
		strconv.FormatInt(sess.Expires.Unix(), 10) + "." + sess.nonce
	return &http.Cookie{
		Name: cookieName, Value: payload + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", payload)),
		Path: "/console/", Expires: sess.Expires, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
}

// clearCookie removes the session cookie.
func clearCookie(r *http.Request) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// session returns the valid session of r: a cookie with a good signature,
// not expired, not signed out, of a key that is still configured.
func (s *sessions) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 {
		return nil, false
	}
	payload := parts[0] + "." + parts[1] + "." + parts[2]
	sig, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || !hmac.Equal(sig, s.mac("session", payload)) {
		return nil, false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return nil, false
	}
	s.mu.Lock()
	_, out := s.revoked[parts[2]]
	s.mu.Unlock()
	if out {
		return nil, false
	}
	_, account, ok := s.creds.SecretFor(string(id))
	if !ok {
		return nil, false
	}
	return &session{AccessKeyID: string(id), AccountID: account, Expires: time.Unix(exp, 0), nonce: parts[2]}, true
}

// signOut makes sess's cookie invalid until it would have expired.
func (s *sessions) signOut(sess *session) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, exp := range s.revoked {
		if !now.Before(exp) {
			delete(s.revoked, n)
		}
	}
	s.revoked[sess.nonce] = sess.Expires
}

// csrf is the token every form of sess posts back: tied to the session,
// so another session's token (or an old one's) is refused.
func (s *sessions) csrf(sess *session) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", sess.nonce))
}

// checkCSRF reports whether r's form carries sess's token.
func (s *sessions) checkCSRF(r *http.Request, sess *session) bool {
	got, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("csrf"))
	return err == nil && hmac.Equal(got, s.mac("csrf", sess.nonce))
}

// sameOrigin reports whether a POST may come from a page of the console:
// a browser's Origin (or, without one, Sec-Fetch-Site) must name this
// host. A request with neither is not from a browser's cross-site form.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && o != "null" && strings.EqualFold(u.Host, r.Host)
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}
