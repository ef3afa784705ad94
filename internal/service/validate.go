package service

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rdsexport/rdsexport/internal/export"
)

// ErrNoCaller is returned (as an internal error) when a request reaches the
// service without an export.Caller in its context: a wiring bug, never a
// client mistake.
var ErrNoCaller = errors.New("service: no caller in request context")

// callerFrom returns the caller of the request. A caller without a region
// gets the default region (spec §1.2).
func callerFrom(ctx context.Context) (export.Caller, error) {
	c, ok := export.CallerFrom(ctx)
	if !ok || c.AccountID == "" {
		return export.Caller{}, ErrNoCaller
	}
	if c.Region == "" {
		c.Region = export.DefaultRegion
	}
	return c, nil
}

func missingParameter(name string) *export.Error {
	return export.Errorf(export.CodeMissingParameter, "The request must contain the parameter %s", name)
}

func invalidParameter(format string, args ...any) *export.Error {
	return export.Errorf(export.CodeInvalidParameterValue, format, args...)
}

// maxIdentifierLen is the longest ExportTaskIdentifier RDS accepts (spec §7.1).
const maxIdentifierLen = 60

// validIdentifier reports whether s is a valid ExportTaskIdentifier (spec
// §7.1): ^[A-Za-z](?:-?[A-Za-z0-9])*$, 1 to 60 characters.
func validIdentifier(s string) bool { return validIdentifierLen(s, maxIdentifierLen) }

// validIdentifierLen reports whether s matches ^[A-Za-z](?:-?[A-Za-z0-9])*$
// and has at most maxLen characters: the rule of every RDS identifier
// (spec §2.3, §7.1), with lengths that differ by resource.
func validIdentifierLen(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen || !isLetter(s[0]) || s[len(s)-1] == '-' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c), c >= '0' && c <= '9':
		case c == '-':
			if s[i-1] == '-' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// invalidIdentifier is the RDS wording for a malformed identifier (spec §1.5).
func invalidIdentifier(param string) *export.Error {
	return invalidParameter("The parameter %s is not a valid identifier. Identifiers must begin with a letter; "+
		"must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", param)
}

// MaxS3PrefixBytes is the longest S3Prefix StartExportTask accepts. Every
// key an export writes must fit S3's limit of 1,024 bytes, and the longest
// part below the prefix is, on MySQL (spec §8.2),
// "/<id>/<db>/<db>.<table>/<batch>/part-<n>-<uuid>-c<m>.gz.parquet": an
// identifier of 60 bytes, names of 64 characters of up to 3 bytes each
// (MySQL and MariaDB allow only the Basic Multilingual Plane in
// identifiers), so 192 bytes, and counters of up to 10 digits make 727
// bytes; 256 + 727 = 983. PostgreSQL names are at most 63 bytes, and the
// manifests' keys are shorter still.
const MaxS3PrefixBytes = 256

// checkS3Prefix rejects prefixes longer than MaxS3PrefixBytes and prefixes
// with ':' (spec §8.1). A long prefix is not quoted back.
func checkS3Prefix(p string) error {
	if len(p) > MaxS3PrefixBytes {
		return invalidParameter("The parameter S3Prefix is not valid: it is %d bytes long; the maximum is %d bytes.", len(p), MaxS3PrefixBytes)
	}
	if strings.Contains(p, ":") {
		return invalidParameter("The parameter S3Prefix is not valid: %s. S3 prefixes must not contain the character ':'.", p)
	}
	return nil
}

// Longest IamRoleArn and KmsKeyId: the maximum length IAM gives a role ARN
// (Role.Arn) and KMS a key identifier (KeyId), 2048 each.
const (
	maxIamRoleArnLen = 2048
	maxKmsKeyIDLen   = 2048
)

// iamRoleRE is a role ARN of the server's partition (Partition).
var iamRoleRE = regexp.MustCompile(`^arn:aws:iam::\d{12}:role/.+$`)

// checkIamRole is check #9 of spec §3.1 (§7.3): a malformed role ARN, one
// of another partition or one longer than IAM allows is a role that does
// not exist. A role ARN too long to exist is not quoted back.
func checkIamRole(role string) error {
	if len(role) > maxIamRoleArnLen {
		return export.Errorf(export.CodeIamRoleNotFound,
			"IAM role not found: the role ARN is %d bytes long; a role ARN has at most %d.", len(role), maxIamRoleArnLen)
	}
	if !iamRoleRE.MatchString(role) {
		return export.Errorf(export.CodeIamRoleNotFound, "IAM role %s not found.", role)
	}
	return nil
}

// checkKmsKey is check #10 of spec §3.1 (§7.3). Keys are not evaluated; a
// key made only of blanks, or longer than a KMS key identifier can be,
// cannot name one.
func checkKmsKey(key string) error {
	if len(key) > maxKmsKeyIDLen {
		return export.Errorf(export.CodeKMSKeyNotAccessible,
			"The KMS key is not accessible: the key identifier is %d bytes long; a key identifier has at most %d.", len(key), maxKmsKeyIDLen)
	}
	if strings.TrimSpace(key) == "" {
		return export.Errorf(export.CodeKMSKeyNotAccessible, "The KMS key %q is not accessible.", key)
	}
	return nil
}

// Page sizes of every Describe operation (spec §5).
const (
	minMaxRecords     = 20
	maxMaxRecords     = 100
	defaultMaxRecords = 100
)

// pageSize validates MaxRecords and returns the page size.
func pageSize(p *int) (int, error) {
	if p == nil {
		return defaultMaxRecords, nil
	}
	if *p < minMaxRecords || *p > maxMaxRecords {
		return 0, invalidParameter("Invalid value %d for MaxRecords. Must be between %d and %d", *p, minMaxRecords, maxMaxRecords)
	}
	return *p, nil
}

func invalidMarker(m string) *export.Error {
	return invalidParameter("The parameter Marker is not valid: %s", m)
}

// encodeSeqMarker is the DescribeExportTasks marker: base64url of the Seq
// of the last task returned (spec §5).
func encodeSeqMarker(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

// decodeSeqMarker reverses encodeSeqMarker; nil or "" means the first page.
func decodeSeqMarker(m *string) (int64, error) {
	if m == nil || *m == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*m, "="))
	if err != nil || len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, invalidMarker(*m)
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq < 0 {
		return 0, invalidMarker(*m)
	}
	return seq, nil
}

// encodeKeyMarker is the marker of the catalog Describe operations:
// base64url of the sort key (lowercase identifier) of the last item.
func encodeKeyMarker(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// decodeKeyMarker reverses encodeKeyMarker; nil or "" means the first page.
func decodeKeyMarker(m *string) (string, error) {
	if m == nil || *m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*m, "="))
	if err != nil || len(b) == 0 {
		return "", invalidMarker(*m)
	}
	return string(b), nil
}

// checkFilters validates names (against known) and values of a Filters
// list (spec §2.2, §5).
func checkFilters(filters []Filter, known ...string) error {
	for _, f := range filters {
		if !slices.Contains(known, f.Name) {
			return invalidParameter("Unrecognized filter name: %s", f.Name)
		}
		if len(f.Values) == 0 {
			return invalidParameter("The filter %s must have at least one value.", f.Name)
		}
	}
	return nil
}

// parseSourceType validates the SourceType of DescribeExportTasks.
func parseSourceType(p *string) (*export.SourceType, error) {
	if p == nil {
		return nil, nil
	}
	switch st := export.SourceType(*p); st {
	case export.SourceTypeSnapshot, export.SourceTypeCluster:
		return &st, nil
	}
	return nil, invalidParameter("Invalid value %s for SourceType. Must be one of SNAPSHOT, CLUSTER", *p)
}

// valueSet accumulates the constraints on one attribute: each constraint
// narrows the set of accepted values (filters combine with AND, the values
// of one filter with OR). An unconstrained set accepts everything.
type valueSet struct {
	constrained bool
	values      []string
}

func (v *valueSet) constrain(values []string) {
	if !v.constrained {
		v.constrained = true
		v.values = nil
		for _, s := range values {
			if !slices.Contains(v.values, s) {
				v.values = append(v.values, s)
			}
		}
		return
	}
	v.values = slices.DeleteFunc(v.values, func(s string) bool { return !slices.Contains(values, s) })
}

// impossible reports whether no value can satisfy the constraints.
func (v *valueSet) impossible() bool { return v.constrained && len(v.values) == 0 }

// list returns the accepted values, or nil when unconstrained.
func (v *valueSet) list() []string {
	if !v.constrained {
		return nil
	}
	return v.values
}

// accepts reports whether s satisfies the constraints; fold compares
// case-insensitively.
func (v *valueSet) accepts(s string, fold bool) bool {
	if !v.constrained {
		return true
	}
	for _, w := range v.values {
		if w == s || fold && strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

// MaxExportOnlyBytes is the limit on the total size of ExportOnly (spec
// §7.4: 200 KB), counted as the sum of the byte lengths of the entries.
const MaxExportOnlyBytes = 200 * 1024

// ExportObject is one parsed ExportOnly entry. Schema is set only for
// PostgreSQL engines, Table only for "database.table" (MySQL) and
// "database.schema.table" (PostgreSQL).
type ExportObject struct {
	Database string
	Schema   string
	Table    string
}

// String returns the entry in its dotted form.
func (o ExportObject) String() string {
	s := o.Database
	if o.Schema != "" {
		s += "." + o.Schema
	}
	if o.Table != "" {
		s += "." + o.Table
	}
	return s
}

// ParseExportOnly validates an ExportOnly list for an engine family
// ("postgres" or "mysql", see export.EngineFamily) and returns its objects
// in the order given, without duplicates and without entries already
// covered by a broader one ("db" covers "db.t"). Every error is an
// *export.Error with code InvalidExportOnly (spec §7.4): an entry whose
// dot-separated names are not all ^[A-Za-z0-9$_]+$, an entry with more
// parts than the engine allows (MySQL 2, PostgreSQL 3), a list longer than
// MaxExportOnlyBytes, or an unknown engine family.
func ParseExportOnly(entries []string, family string) ([]ExportObject, error) {
	maxParts := 0
	switch family {
	case "postgres":
		maxParts = 3
	case "mysql":
		maxParts = 2
	default:
		return nil, export.Errorf(export.CodeInvalidExportOnly, "ExportOnly is not supported for this engine.")
	}
	total := 0
	for _, e := range entries {
		total += len(e)
	}
	if total > MaxExportOnlyBytes {
		return nil, export.Errorf(export.CodeInvalidExportOnly,
			"The ExportOnly list is %d bytes long; the maximum is %d bytes (200 KB).", total, MaxExportOnlyBytes)
	}
	objs := make([]ExportObject, 0, len(entries))
	for _, e := range entries {
		parts := strings.Split(e, ".")
		for _, p := range parts {
			if !validExportName(p) {
				return nil, export.Errorf(export.CodeInvalidExportOnly,
					"The ExportOnly entry %q is not valid: each dot-separated name must be made of Latin letters, digits, '$' and '_'.", e)
			}
		}
		if len(parts) > maxParts {
			if family == "mysql" {
				return nil, export.Errorf(export.CodeInvalidExportOnly,
					"The ExportOnly entry %q is not valid for MySQL and MariaDB engines: use database or database.table.", e)
			}
			return nil, export.Errorf(export.CodeInvalidExportOnly,
				"The ExportOnly entry %q is not valid for PostgreSQL engines: use database, database.schema or database.schema.table.", e)
		}
		o := ExportObject{Database: parts[0]}
		switch {
		case len(parts) == 2 && family == "mysql":
			o.Table = parts[1]
		case len(parts) == 2:
			o.Schema = parts[1]
		case len(parts) == 3:
			o.Schema, o.Table = parts[1], parts[2]
		}
		objs = append(objs, o)
	}
	return dedupeExportObjects(objs), nil
}

func validExportName(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '$' || c == '_') {
			return false
		}
	}
	return true
}

// dedupeExportObjects drops duplicates and objects inside a broader object
// of the list (spec §7.4 [R]), keeping the order of first appearance.
func dedupeExportObjects(objs []ExportObject) []ExportObject {
	databases := map[string]bool{}
	schemas := map[[2]string]bool{}
	for _, o := range objs {
		switch {
		case o.Schema == "" && o.Table == "":
			databases[o.Database] = true
		case o.Table == "":
			schemas[[2]string{o.Database, o.Schema}] = true
		}
	}
	seen := map[ExportObject]bool{}
	out := objs[:0:0]
	for _, o := range objs {
		if seen[o] {
			continue
		}
		seen[o] = true
		broader := o.Schema != "" || o.Table != ""
		if broader && databases[o.Database] {
			continue
		}
		if o.Table != "" && o.Schema != "" && schemas[[2]string{o.Database, o.Schema}] {
			continue
		}
		out = append(out, o)
	}
	return out
}
