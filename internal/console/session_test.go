package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type keys map[string][2]string // access key ID → secret, account

func (k keys) SecretFor(id string) (string, string, bool) {
	v, ok := k[id]
	return v[0], v[1], ok
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/console/", nil)
	r.AddCookie(c)
	return r
}

func TestSessions_SignIn(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newSessions(keys{"a": {"secret-a", "111111111111"}, "b": {"secret-b", "222222222222"}}, time.Hour, func() time.Time { return now })
	t.Run("OK", func(t *testing.T) {
		sess, ok := s.signIn("a", "secret-a")
		if !ok || sess.AccountID != "111111111111" {
			t.Fatalf("signIn = %+v, %v", sess, ok)
		}
		c := s.cookie(httptest.NewRequest(http.MethodPost, "/console/login", nil), sess)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || !c.Expires.Equal(now.Add(time.Hour)) {
			t.Errorf("cookie %+v", c)
		}
		got, ok := s.session(withCookie(c))
		if !ok || got.AccessKeyID != "a" || got.AccountID != "111111111111" {
			t.Fatalf("session = %+v, %v", got, ok)
		}
	})
	t.Run("ErrWrongSecret", func(t *testing.T) {
		for _, c := range [][2]string{{"a", "secret-b"}, {"a", ""}, {"nobody", "x"}, {"", ""}, {"a", "secret-a "}} {
			if _, ok := s.signIn(c[0], c[1]); ok {
				t.Errorf("signIn(%q, %q) succeeded", c[0], c[1])
			}
		}
	})
}

func TestSessions_Session(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	creds := keys{"a": {"secret-a", "111111111111"}, "b": {"secret-b", "222222222222"}}
	s := newSessions(creds, time.Hour, func() time.Time { return now })
	sess, _ := s.signIn("a", "secret-a")
	good := s.cookie(httptest.NewRequest(http.MethodGet, "/", nil), sess)
	parts := strings.Split(good.Value, ".")

	forged := func(value string) *http.Cookie { return &http.Cookie{Name: cookieName, Value: value} }
	other := newSessions(creds, time.Hour, func() time.Time { return now })
	cases := map[string]*http.Cookie{
		// Another account's key in a cookie signed for "a".
		"other key":       forged("Yg." + parts[1] + "." + parts[2] + "." + parts[3]),
		"later expiry":    forged(parts[0] + ".9999999999." + parts[2] + "." + parts[3]),
		"bad signature":   forged(parts[0] + "." + parts[1] + "." + parts[2] + ".AAAA"),
		"no signature":    forged(parts[0] + "." + parts[1] + "." + parts[2]),
		"other process":   other.cookie(httptest.NewRequest(http.MethodGet, "/", nil), sess),
		"empty":           forged(""),
		"garbage":         forged("%%%.%%%.%%%.%%%"),
		"too many fields": forged(good.Value + ".x"),
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got, ok := s.session(withCookie(c)); ok {
				t.Errorf("accepted: %+v", got)
			}
		})
	}
	t.Run("Expired", func(t *testing.T) {
		now = now.Add(time.Hour)
		defer func() { now = now.Add(-time.Hour) }()
		if _, ok := s.session(withCookie(good)); ok {
			t.Error("expired session accepted")
		}
	})
	t.Run("SignedOut", func(t *testing.T) {
		sess2, _ := s.signIn("b", "secret-b")
		c := s.cookie(httptest.NewRequest(http.MethodGet, "/", nil), sess2)
		if _, ok := s.session(withCookie(c)); !ok {
			t.Fatal("fresh session refused")
		}
		s.signOut(sess2)
		if _, ok := s.session(withCookie(c)); ok {
			t.Error("signed-out session accepted")
		}
		if _, ok := s.session(withCookie(good)); !ok {
			t.Error("signing one session out ended another")
		}
	})
	t.Run("KeyRemoved", func(t *testing.T) {
		delete(creds, "a")
		defer func() { creds["a"] = [2]string{"secret-a", "111111111111"} }()
		if _, ok := s.session(withCookie(good)); ok {
			t.Error("session of a removed key accepted")
		}
	})
}

func TestSessions_CSRF(t *testing.T) {
	s := newSessions(keys{"a": {"s", "111111111111"}}, time.Hour, time.Now)
	one, _ := s.signIn("a", "s")
	two, _ := s.signIn("a", "s")
	post := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/console/exports", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	if !s.checkCSRF(post(s.csrf(one)), one) {
		t.Error("the session's own token refused")
	}
	for name, tok := range map[string]string{"other session": s.csrf(two), "empty": "", "garbage": "!!"} {
		if s.checkCSRF(post(tok), one) {
			t.Errorf("%s token accepted", name)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		origin, site string
		want         bool
	}{
		{"http://example.test:4566", "", true},
		{"http://EXAMPLE.test:4566", "", true},
		{"http://evil.test", "", false},
		{"http://example.test:4567", "", false},
		{"null", "", false},
		{"", "same-origin", true},
		{"", "cross-site", false},
		{"", "same-site", false},
		{"", "", true},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://example.test:4566/console/exports", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if got := sameOrigin(r); got != c.want {
			t.Errorf("Origin %q Sec-Fetch-Site %q: %v, want %v", c.origin, c.site, got, c.want)
		}
	}
}
