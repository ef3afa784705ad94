package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rdsexport.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigSecretReferences(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "s3-secret")
	if err := os.WriteFile(keyFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pg-password")
	if err := os.WriteFile(pwFile, []byte("pw-from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RDSEXPORT_TEST_SECRET", "from-the-env")
	t.Setenv("RDSEXPORT_TEST_URL", "postgres://u:p@db:5432/app")

	var c Config
	if err := c.LoadConfigFile(writeConfig(t, `
credentials:
  - access_key_id: plain
    secret_access_key: "${ENV:RDSEXPORT_TEST_SECRET}"
  - access_key_id: literal
    secret_access_key: no-reference-here
s3:
  endpoint: http://127.0.0.1:9000
  secret_access_key: "${FILE:`+keyFile+`}"
clusters:
  - identifier: a
    engine: aurora-postgresql
    url: "${ENV:RDSEXPORT_TEST_URL}"
instances:
  - identifier: b
    engine: postgres
    url: "postgres://exporter:${FILE:`+pwFile+`}@db:5432/app"
allow_session_tokens: true
max_concurrent_requests: 8
`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"credentials[0]", c.Credentials[0].SecretAccessKey, "from-the-env"},
		{"credentials[1]", c.Credentials[1].SecretAccessKey, "no-reference-here"},
		{"s3", c.S3.SecretAccessKey, "from-a-file"},
		{"clusters[0].url", c.Clusters[0].URL, "postgres://u:p@db:5432/app"},
		{"instances[0].url", c.Instances[0].URL, "postgres://exporter:pw-from-file@db:5432/app"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !c.AllowSessionTokens || c.MaxConcurrentRequests != 8 {
		t.Errorf("allow_session_tokens %v, max_concurrent_requests %d", c.AllowSessionTokens, c.MaxConcurrentRequests)
	}
}

func TestConfigSecretReferenceErrors(t *testing.T) {
	t.Setenv("RDSEXPORT_TEST_EMPTY", "")
	missing := filepath.Join(t.TempDir(), "no-such-file")
	for _, c := range []struct {
		name, yaml string
		want       []string // in the error
	}{
		{"UnsetVariable", `
credentials:
  - access_key_id: k
    secret_access_key: "${ENV:RDSEXPORT_TEST_UNSET_VARIABLE}"
`, []string{"credentials[0].secret_access_key", "RDSEXPORT_TEST_UNSET_VARIABLE", "not set"}},
		{"EmptyVariable", `
s3:
  secret_access_key: "${ENV:RDSEXPORT_TEST_EMPTY}"
`, []string{"s3.secret_access_key", "RDSEXPORT_TEST_EMPTY"}},
		{"MissingFile", `
clusters:
  - identifier: a
    engine: postgres
    url: "postgres://u:${FILE:` + missing + `}@h/db"
`, []string{"clusters[0].url", missing}},
		{"NoName", `
instances:
  - identifier: a
    engine: postgres
    url: "${ENV:}"
`, []string{"instances[0].url"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cfg Config
			err := cfg.LoadConfigFile(writeConfig(t, c.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

// TestConfigSecretsNotInErrors: a resolved secret is never part of an
// error, even when the configuration around it is invalid.
func TestConfigSecretsNotInErrors(t *testing.T) {
	const secret = "very-secret-value-123"
	t.Setenv("RDSEXPORT_TEST_SECRET", secret)
	cfg := DefaultConfig()
	if err := cfg.LoadConfigFile(writeConfig(t, `
credentials:
  - access_key_id: k
    secret_access_key: "${ENV:RDSEXPORT_TEST_SECRET}"
    account_id: bad
clusters:
  - identifier: 1bad
    engine: nope
    url: "postgres://u:${ENV:RDSEXPORT_TEST_SECRET}@h/db"
max_concurrent_requests: 0
`)); err != nil {
		t.Fatal(err)
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "max_concurrent_requests") {
		t.Errorf("error does not name max_concurrent_requests: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.AllowSessionTokens || c.MaxConcurrentRequests != 256 {
		t.Fatalf("allow_session_tokens %v, max_concurrent_requests %d; want false, 256", c.AllowSessionTokens, c.MaxConcurrentRequests)
	}
}
