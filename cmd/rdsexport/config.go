package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Config is everything rdsexport serve reads: defaults, then the YAML file,
// then RDSEXPORT_* environment variables, then flags.
type Config struct {
	// Listen is the address of the one HTTP listener (RDS API and, when
	// S3.Endpoint is empty, the embedded S3).
	Listen string `yaml:"listen"`
	// Region is the region of the ARNs the server mints when a request's
	// credential scope names none.
	Region string `yaml:"region"`
	// ExtraRegions are further regions the server serves besides Region.
	// Requests signed for any other region are refused, and the ARNs a
	// request names must be of its own region: the configured sources are
	// the same in every served region, and an export of one counts as an
	// export of that source whatever the region of its ARN.
	ExtraRegions []string `yaml:"extra_regions"`
	// AccountID owns every resource (12 digits).
	AccountID string `yaml:"account_id"`
	// DataDir holds the task store (unless Store names one) and the
	// embedded S3 data.
	DataDir string `yaml:"data_dir"`
	// Store is where task and snapshot records live: "" for SQLite in
	// DataDir/tasks.db, or a postgres:// URL of a PostgreSQL database that
	// several nodes may share. With PostgreSQL, S3.Endpoint and
	// Snapshots.Bucket must be set, so that every node reaches the exports
	// and snapshot copies.
	Store string `yaml:"store"`
	// NodeID names this node among those sharing a store; "" means the
	// host name, ":" and the port of Listen.
	NodeID string `yaml:"node_id"`
	// Credentials are the SigV4 keys the server accepts.
	Credentials []Credential `yaml:"credentials"`
	// S3 is where exports are written.
	S3 S3Config `yaml:"s3"`
	// MaxConcurrentExports per account (spec §6.5).
	MaxConcurrentExports int `yaml:"max_concurrent_exports"`
	// ExportConnections is the number of source connections per export.
	ExportConnections int `yaml:"export_connections"`
	// RangeWorkers is, with a shared store, how many ranges of the
	// cluster's exports this node reads at once; 0 means
	// ExportConnections.
	RangeWorkers int `yaml:"range_workers"`
	// ExportFileBytes is the compressed size at which a Parquet file is
	// closed and the next begun (RDS writes files of a few MB).
	ExportFileBytes int64 `yaml:"export_file_bytes"`
	// Snapshots says where snapshot copies are stored: data_dir/snapshots
	// when Bucket is empty, else Bucket/Prefix in the S3 store.
	Snapshots SnapshotStorage `yaml:"snapshots"`
	// SnapshotQuota is the number of manual snapshots of each kind an
	// account may keep (SnapshotQuotaExceeded past it).
	SnapshotQuota int `yaml:"snapshot_quota"`
	// MaxConcurrentSnapshots is the number of snapshot copies an account
	// runs at once; further snapshots wait in creating, in order.
	MaxConcurrentSnapshots int `yaml:"max_concurrent_snapshots"`
	// MaxConcurrentSnapshotsPerServer is the number of snapshot copies of
	// one database server (engine family, host, port) running at once,
	// whatever their account.
	MaxConcurrentSnapshotsPerServer int `yaml:"max_concurrent_snapshots_per_server"`
	// MaxSourceConnections bounds the connections rdsexport holds to one
	// database server (engine family, host, port) at once: exports,
	// snapshot copies and version queries together. A job waits until the
	// connections it will open are free.
	MaxSourceConnections int `yaml:"max_source_connections"`
	// Clusters are live sources exportable with SourceType CLUSTER.
	Clusters []SourceConfig `yaml:"clusters"`
	// Instances are DB instances (listed by DescribeDBInstances).
	Instances []SourceConfig `yaml:"instances"`
	// LogFormat is "text" (default) or "json"; LogLevel debug|info|warn|error.
	LogFormat string `yaml:"log_format"`
	LogLevel  string `yaml:"log_level"`
	// AllowSessionTokens accepts requests signed with temporary
	// credentials (X-Amz-Security-Token); off, they are refused with
	// InvalidClientTokenId since the server issues no session tokens.
	AllowSessionTokens bool `yaml:"allow_session_tokens"`
	// MaxConcurrentRequests caps the requests served at once, RDS and
	// embedded S3 together; past it RDS requests get Throttling and S3
	// requests SlowDown, which clients retry.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// Metrics configures GET /metrics.
	Metrics MetricsConfig `yaml:"metrics"`
}

// MetricsConfig configures GET /metrics. By default it needs HTTP basic
// authentication with an access key of the server's account; Public
// serves it to anyone who can reach the listener.
type MetricsConfig struct {
	Public bool `yaml:"public"`
}

// Credential is one accepted access key and the account it signs for.
type Credential struct {
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// AccountID is the key's account; empty means the server's account_id.
	AccountID string `yaml:"account_id"`
}

// S3Config selects the object store: empty Endpoint serves S3 from DataDir
// on the same listener; otherwise any S3-compatible URL.
type S3Config struct {
	Endpoint        string `yaml:"endpoint"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	Region          string `yaml:"region"`
	// Hostnames are the base host names of virtual-hosted-style requests
	// to the embedded S3: <bucket>.<hostname>[:port]. Path style works on
	// any host.
	Hostnames []string `yaml:"hostnames"`
}

// SnapshotStorage is where snapshot copies live.
type SnapshotStorage struct {
	Bucket string `yaml:"bucket"`
	Prefix string `yaml:"prefix"`
}

// SourceConfig is one configured database server.
type SourceConfig struct {
	Identifier string `yaml:"identifier"`
	Engine     string `yaml:"engine"`
	URL        string `yaml:"url"`
	// Databases, when set, limits the server to these databases (by
	// default every database the URL's user can reach is part of it).
	Databases []string `yaml:"databases"`
	// SharedWith lists other accounts that see and may export or snapshot
	// this source; it always belongs to the server's account.
	SharedWith []string `yaml:"shared_with"`
	// ReadTimeout is how long a source connection may wait on a silent
	// server (no byte sent or accepted) before the export or snapshot
	// fails; 0 means the source's default (10m). It bounds silence, not
	// the length of a read.
	ReadTimeout time.Duration `yaml:"read_timeout"`
}

// DefaultConfig is the configuration with no file: the embedded store and
// S3 under ./data, key test/test, no sources.
func DefaultConfig() Config {
	return Config{
		Listen:               "127.0.0.1:4566",
		Region:               export.DefaultRegion,
		AccountID:            "000000000000",
		DataDir:              "./data",
		Credentials:          []Credential{{AccessKeyID: "test", SecretAccessKey: "test"}},
		S3:                   S3Config{Hostnames: []string{"localhost", "s3.localhost"}},
		MaxConcurrentExports: 5,
		ExportConnections:    2,
		ExportFileBytes:      8 << 20,
		SnapshotQuota:        100,
		LogFormat:            "text",
		LogLevel:             "info",

		MaxConcurrentRequests: 256,

		// Two copies of three connections each (two readers and a catalog
		// connection) leave ten of sixteen to exports: three MySQL exports
		// of the default export_connections at once on that server, five
		// when no copy runs.
		MaxConcurrentSnapshots:          4,
		MaxConcurrentSnapshotsPerServer: 2,
		MaxSourceConnections:            16,
	}
}

// LoadConfigFile reads a YAML file over c. Unknown keys are errors so that
// typos do not pass silently.
func (c *Config) LoadConfigFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalWithOptions(b, c, yaml.Strict()); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := c.resolveSecrets(os.LookupEnv, os.ReadFile); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// secretRef is a reference to a secret kept outside the config file:
// ${ENV:NAME} is the environment variable NAME, ${FILE:/path} the content
// of the file without its trailing newline.
var secretRef = regexp.MustCompile(`\$\{(ENV|FILE):([^}]*)\}`)

// resolveSecrets replaces the secret references in the secret keys and the
// source URLs. An error names the key and the variable or file, never a
// value.
func (c *Config) resolveSecrets(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	var errs []error
	resolve := func(key string, p *string) {
		*p = secretRef.ReplaceAllStringFunc(*p, func(ref string) string {
			m := secretRef.FindStringSubmatch(ref)
			kind, name := m[1], m[2]
			if name == "" {
				errs = append(errs, fmt.Errorf("%s: %s reference names nothing", key, kind))
				return ""
			}
			if kind == "ENV" {
				v, ok := lookupEnv(name)
				if !ok || v == "" {
					errs = append(errs, fmt.Errorf("%s: environment variable %s is not set", key, name))
				}
				return v
			}
			b, err := readFile(name)
			if err != nil {
				// The error of os.ReadFile names the path, not the content.
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				return ""
			}
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				errs = append(errs, fmt.Errorf("%s: file %s is empty", key, name))
			}
			return v
		})
	}
	for i := range c.Credentials {
		resolve(fmt.Sprintf("credentials[%d].secret_access_key", i), &c.Credentials[i].SecretAccessKey)
	}
	resolve("s3.secret_access_key", &c.S3.SecretAccessKey)
	resolve("store", &c.Store)
	for i := range c.Clusters {
		resolve(fmt.Sprintf("clusters[%d].url", i), &c.Clusters[i].URL)
	}
	for i := range c.Instances {
		resolve(fmt.Sprintf("instances[%d].url", i), &c.Instances[i].URL)
	}
	return errors.Join(errs...)
}

// LoadEnv applies RDSEXPORT_LISTEN, RDSEXPORT_REGION,
// RDSEXPORT_EXTRA_REGIONS (comma-separated), RDSEXPORT_ACCOUNT_ID,
// RDSEXPORT_DATA_DIR, RDSEXPORT_STORE, RDSEXPORT_NODE_ID,
// RDSEXPORT_S3_ENDPOINT, RDSEXPORT_MAX_CONCURRENT_EXPORTS,
// RDSEXPORT_METRICS_PUBLIC and RDSEXPORT_LOG_LEVEL when set.
func (c *Config) LoadEnv(getenv func(string) string) error {
	str := map[string]*string{
		"RDSEXPORT_LISTEN":      &c.Listen,
		"RDSEXPORT_REGION":      &c.Region,
		"RDSEXPORT_ACCOUNT_ID":  &c.AccountID,
		"RDSEXPORT_DATA_DIR":    &c.DataDir,
		"RDSEXPORT_STORE":       &c.Store,
		"RDSEXPORT_NODE_ID":     &c.NodeID,
		"RDSEXPORT_S3_ENDPOINT": &c.S3.Endpoint,
		"RDSEXPORT_LOG_LEVEL":   &c.LogLevel,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	if v := getenv("RDSEXPORT_EXTRA_REGIONS"); v != "" {
		c.ExtraRegions = nil
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				c.ExtraRegions = append(c.ExtraRegions, r)
			}
		}
	}
	if v := getenv("RDSEXPORT_METRICS_PUBLIC"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("RDSEXPORT_METRICS_PUBLIC: %w", err)
		}
		c.Metrics.Public = b
	}
	if v := getenv("RDSEXPORT_MAX_CONCURRENT_EXPORTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("RDSEXPORT_MAX_CONCURRENT_EXPORTS: %w", err)
		}
		c.MaxConcurrentExports = n
	}
	return nil
}

var (
	accountRe    = regexp.MustCompile(`^\d{12}$`)
	regionRe     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	identifierRe = regexp.MustCompile(`^[A-Za-z](?:-?[A-Za-z0-9])*$`)
	hostnameRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	nodeIDRe     = regexp.MustCompile(`^[!-~]{1,100}$`)
)

// Regions returns the regions the server serves: Region, then
// ExtraRegions.
func (c *Config) Regions() []string {
	return append([]string{c.Region}, c.ExtraRegions...)
}

// Validate reports every problem of c at once. Source URLs are parsed as
// the sources connect (parseSourceURL); their errors never quote them.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: %v", c.Listen, err)
	}
	if !regionRe.MatchString(c.Region) {
		bad("region %q is not a region name like us-east-1", c.Region)
	}
	for i, r := range c.ExtraRegions {
		switch {
		case !regionRe.MatchString(r):
			bad("extra_regions[%d] %q is not a region name like us-west-2", i, r)
		case slices.Contains(c.ExtraRegions[:i], r) || r == c.Region:
			bad("extra_regions[%d] %q is listed twice", i, r)
		}
	}
	if !accountRe.MatchString(c.AccountID) {
		bad("account_id %q must be 12 digits", c.AccountID)
	}
	if c.DataDir == "" {
		bad("data_dir is empty")
	}
	if len(c.Credentials) == 0 {
		bad("credentials: at least one key is needed (every request is signed)")
	}
	keys := map[string]bool{}
	for i, k := range c.Credentials {
		if k.AccessKeyID == "" || k.SecretAccessKey == "" {
			bad("credentials[%d]: access_key_id and secret_access_key are required", i)
		}
		if k.AccountID != "" && !accountRe.MatchString(k.AccountID) {
			bad("credentials[%d]: account_id %q must be 12 digits", i, k.AccountID)
		}
		if keys[k.AccessKeyID] {
			bad("credentials[%d]: duplicate access_key_id %q", i, k.AccessKeyID)
		}
		keys[k.AccessKeyID] = true
	}
	if c.MaxConcurrentExports < 1 {
		bad("max_concurrent_exports must be at least 1")
	}
	if c.ExportConnections < 1 {
		bad("export_connections must be at least 1")
	}
	if c.RangeWorkers < 0 {
		bad("range_workers must not be negative")
	}
	if c.MaxConcurrentRequests < 1 {
		bad("max_concurrent_requests must be at least 1")
	}
	if c.SnapshotQuota < 1 {
		bad("snapshot_quota must be at least 1")
	}
	if c.MaxConcurrentSnapshots < 1 {
		bad("max_concurrent_snapshots must be at least 1")
	}
	if c.MaxConcurrentSnapshotsPerServer < 1 {
		bad("max_concurrent_snapshots_per_server must be at least 1")
	}
	// An export or copy of a MySQL source holds its readers and a catalog
	// connection; with less, every job would need the whole budget.
	if c.ExportConnections >= 1 && c.MaxSourceConnections < c.ExportConnections+1 {
		bad("max_source_connections must be at least export_connections + 1 (%d)", c.ExportConnections+1)
	}
	if c.ExportFileBytes < 64<<10 {
		bad("export_file_bytes must be at least 65536")
	}
	if c.S3.Endpoint != "" && !strings.HasPrefix(c.S3.Endpoint, "http://") && !strings.HasPrefix(c.S3.Endpoint, "https://") {
		bad("s3.endpoint %q must be an http(s) URL", c.S3.Endpoint)
	}
	for i, h := range c.S3.Hostnames {
		if !hostnameRe.MatchString(h) {
			bad("s3.hostnames[%d] %q is not a host name (letters, digits, hyphens and dots, no port)", i, h)
		}
	}
	if c.Store != "" {
		// The errors never quote the URL: it may hold a password.
		if _, err := parseStoreURL(c.Store); err != nil {
			bad("store: %v", err)
		}
		// Every node must reach every export and snapshot copy: the
		// embedded S3 and data_dir/snapshots are one node's own disk.
		if c.S3.Endpoint == "" {
			bad("store is PostgreSQL (shared by nodes): s3.endpoint must name an external S3-compatible server, not the embedded S3 in data_dir")
		}
		if c.Snapshots.Bucket == "" {
			bad("store is PostgreSQL (shared by nodes): snapshots.bucket must be set, so that snapshot copies are in S3 rather than in one node's data_dir")
		}
	}
	if c.NodeID != "" && !nodeIDRe.MatchString(c.NodeID) {
		bad("node_id %q: 1 to 100 printable ASCII characters without spaces", c.NodeID)
	}
	for kind, list := range map[string][]SourceConfig{"clusters": c.Clusters, "instances": c.Instances} {
		seen := map[string]bool{}
		for i, s := range list {
			id := strings.ToLower(s.Identifier)
			switch {
			case !identifierRe.MatchString(s.Identifier) || len(s.Identifier) > 63:
				bad("%s[%d]: identifier %q: letters, digits and single hyphens, starting with a letter, at most 63", kind, i, s.Identifier)
			case seen[id]:
				bad("%s[%d]: duplicate identifier %q", kind, i, s.Identifier)
			}
			seen[id] = true
			if export.EngineFamily(s.Engine) == "" {
				bad("%s[%d] %s: engine %q is not supported (postgres, aurora-postgresql, mysql, mariadb, aurora-mysql)", kind, i, s.Identifier, s.Engine)
			}
			if s.URL == "" {
				bad("%s[%d] %s: url is empty", kind, i, s.Identifier)
			} else if export.EngineFamily(s.Engine) != "" {
				// The error never quotes the URL: it holds a password.
				if _, err := parseSourceURL(s.Engine, s.URL); err != nil {
					bad("%s[%d] %s: url: %v", kind, i, s.Identifier, err)
				}
			}
			if s.ReadTimeout < 0 {
				bad("%s[%d] %s: read_timeout %s is negative", kind, i, s.Identifier, s.ReadTimeout)
			}
			for _, a := range s.SharedWith {
				if !accountRe.MatchString(a) {
					bad("%s[%d] %s: shared_with account %q must be 12 digits", kind, i, s.Identifier, a)
				}
			}
		}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format %q: text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level %q: debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}
