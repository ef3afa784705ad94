package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// consoleClient is a browser-like HTTP client of the console: it keeps
// cookies and does not follow redirects.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsole_Forms: sign-in, the session cookie's flags, and the checks
// on every POST (session, CSRF token, Origin), over plain HTTP.
func TestConsole_Forms(t *testing.T) {
	s := startServer(t, "postgres://postgres@127.0.0.1:1/none", nil)
	c := newConsoleClient(t, s.URL())

	if res, _ := c.do("GET", "/console/", nil, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
		t.Fatalf("signed out: %d %s, want a redirect to the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}
	if res, body := c.do("POST", "/console/login", url.Values{"access_key_id": {"test"}, "secret_access_key": {"wrong"}}, nil); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "SignInFailed") {
		t.Errorf("wrong secret: %d", res.StatusCode)
	}
	res, _ := c.do("POST", "/console/login", url.Values{"access_key_id": {"test"}, "secret_access_key": {"test"}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"rdsexport_console=", "HttpOnly", "SameSite=Strict", "Path=/console/", "Expires="} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	res, page := c.do("GET", "/console/", nil, nil)
	m := csrfField.FindStringSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("dashboard: %d, token %v", res.StatusCode, m)
	}
	token := m[1]
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	start := url.Values{"identifier": {"from-console"}, "source": {clusterArn("pg")}, "bucket": {s.Bucket},
		"iam_role": {roleArn}, "kms_key": {"k"}}
	withToken := func(v url.Values, tok string) url.Values {
		out := url.Values{"csrf": {tok}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
		want   int
	}{
		{"no token", start, nil, http.StatusForbidden},
		{"wrong token", withToken(start, "AAAA"), nil, http.StatusForbidden},
		{"other origin", withToken(start, token), map[string]string{"Origin": "http://evil.test"}, http.StatusForbidden},
		{"cross-site fetch", withToken(start, token), map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	} {
		if res, _ := c.do("POST", "/console/exports", tc.form, tc.header); res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
	if out, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{}); err != nil || len(out.ExportTasks) != 0 {
		t.Fatalf("refused forms created tasks: %v %v", out, err)
	}

	// The service's errors, as the API has them.
	if res, body := c.do("POST", "/console/exports/nope/cancel", url.Values{"csrf": {token}}, map[string]string{"Origin": s.URL()}); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ExportTaskNotFound") {
		t.Errorf("cancel of a missing task: %d", res.StatusCode)
	}
	bad := withToken(start, token)
	bad.Set("bucket", "no-such-bucket")
	if res, body := c.do("POST", "/console/exports", bad, nil); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "InvalidS3BucketFault") || !strings.Contains(body, `value="from-console"`) {
		t.Errorf("missing bucket: %d, want InvalidS3BucketFault and the form kept", res.StatusCode)
	}

	// Signing out revokes the cookie, also for a copy kept elsewhere.
	kept := newConsoleClient(t, s.URL())
	u, _ := url.Parse(s.URL() + "/console/")
	kept.c.Jar.SetCookies(u, c.c.Jar.Cookies(u))
	if res, _ := c.do("POST", "/console/logout", url.Values{"csrf": {token}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", res.StatusCode)
	}
	if res, _ := kept.do("GET", "/console/", nil, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("signed-out cookie still opens the console: %d", res.StatusCode)
	}

	// A signed S3 request for a bucket named "console" is the S3's.
	st := createBucketVia(t, s.URL(), "console")
	if err := st.Put(t.Context(), "console", "k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if keys, err := st.List(t.Context(), "console", ""); err != nil || len(keys) != 1 {
		t.Errorf("S3 bucket console: %v %v", keys, err)
	}
}
