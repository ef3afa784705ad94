package service

import (
	"errors"
	"regexp"
	"strings"

	"github.com/rdsexport/rdsexport/internal/export"
)

// RDS resource types that appear in ARNs (spec §2.3).
const (
	ResourceSnapshot        = "snapshot"
	ResourceClusterSnapshot = "cluster-snapshot"
	ResourceCluster         = "cluster"
	ResourceDB              = "db"
)

// Partition is the one partition of the ARNs the server mints and accepts.
// An ARN of another partition (aws-cn, aws-us-gov, ...) cannot name one of
// its resources: it is refused as malformed, never resolved by its
// identifier alone.
const Partition = "aws"

// ErrInvalidARN is wrapped by ParseARN for any string that is not an RDS ARN.
var ErrInvalidARN = errors.New("not an RDS ARN")

// ARN is a parsed Amazon RDS resource name:
// arn:<partition>:rds:<region>:<account>:<type>:<id>.
type ARN struct {
	Partition    string
	Region       string
	AccountID    string
	ResourceType string
	// ID is everything after the resource type. It may itself contain ':'
	// (automated snapshots are named "rds:<instance>-<yyyy-mm-dd-hh-mm>").
	ID string
}

var (
	partitionRE    = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionRE       = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	accountRE      = regexp.MustCompile(`^[0-9]{12}$`)
	resourceTypeRE = regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
)

// ParseARN parses an RDS ARN of any resource type. The resource id must be
// non-empty and free of whitespace and control characters; it is not
// otherwise checked, because an id that cannot exist is reported as not
// found by the caller, as RDS does. Any other malformation returns an error
// wrapping ErrInvalidARN.
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 7)
	if len(parts) != 7 {
		return ARN{}, invalidARN("expected 7 colon-separated fields")
	}
	a := ARN{Partition: parts[1], Region: parts[3], AccountID: parts[4], ResourceType: parts[5], ID: parts[6]}
	switch {
	case parts[0] != "arn":
		return ARN{}, invalidARN(`must begin with "arn:"`)
	case !partitionRE.MatchString(a.Partition):
		return ARN{}, invalidARN("bad partition")
	case parts[2] != "rds":
		return ARN{}, invalidARN(`service must be "rds"`)
	case !regionRE.MatchString(a.Region):
		return ARN{}, invalidARN("bad region")
	case !accountRE.MatchString(a.AccountID):
		return ARN{}, invalidARN("account must be 12 digits")
	case !resourceTypeRE.MatchString(a.ResourceType):
		return ARN{}, invalidARN("bad resource type")
	case a.ID == "":
		return ARN{}, invalidARN("empty resource id")
	}
	for _, r := range a.ID {
		if r <= ' ' || r == 0x7f || r == '\uFFFD' {
			return ARN{}, invalidARN("resource id contains whitespace or control characters")
		}
	}
	return a, nil
}

func invalidARN(why string) error {
	return &arnError{why: why}
}

type arnError struct{ why string }

func (e *arnError) Error() string { return ErrInvalidARN.Error() + ": " + e.why }
func (e *arnError) Unwrap() error { return ErrInvalidARN }

// String returns the ARN in its textual form; ParseARN(a.String()) == a.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":rds:" + a.Region + ":" + a.AccountID + ":" + a.ResourceType + ":" + a.ID
}

// ownedBy reports whether the ARN names a resource of the caller's account
// in the caller's region. The caller's region is one the server serves
// (the front end refuses requests signed for any other), so an ARN of a
// region the server does not serve is never owned.
func (a ARN) ownedBy(c export.Caller) bool {
	return a.Partition == Partition && a.AccountID == c.AccountID && a.Region == c.Region
}

// maxARNLen is the longest ARN AWS accepts anywhere (IAM and KMS give
// their ARN members a maximum length of 2048).
const maxARNLen = 2048

// parseSourceARN parses the SourceArn of StartExportTask (spec §7.2): an
// RDS ARN of the server's partition and of type snapshot, cluster-snapshot
// or cluster. Anything else is InvalidParameterValue; an ARN longer than
// maxARNLen is refused without being quoted.
func parseSourceARN(s string) (ARN, export.SourceType, error) {
	if len(s) > maxARNLen {
		return ARN{}, "", invalidParameter("The parameter SourceArn is not valid: it is %d bytes long; an ARN has at most %d.", len(s), maxARNLen)
	}
	a, err := ParseARN(s)
	if err != nil || a.Partition != Partition {
		return ARN{}, "", invalidSourceARN(s)
	}
	switch a.ResourceType {
	case ResourceSnapshot, ResourceClusterSnapshot:
		return a, export.SourceTypeSnapshot, nil
	case ResourceCluster:
		return a, export.SourceTypeCluster, nil
	}
	return ARN{}, "", invalidSourceARN(s)
}

func invalidSourceARN(s string) *export.Error {
	return export.Errorf(export.CodeInvalidParameterValue,
		"The parameter SourceArn is not valid: %s is not the ARN of a DB snapshot, DB cluster snapshot or DB cluster.", s)
}

// resolveIdentifier turns a DBClusterIdentifier / DBInstanceIdentifier
// value (an identifier or an ARN of resourceType) into a plain identifier.
// ok is false when the value is an ARN of another account or region: such a
// resource is invisible to the caller, so lookups report it as not found,
// as RDS does for resources of other accounts. A malformed ARN, one of
// another partition or one of another resource type is
// InvalidParameterValue.
func resolveIdentifier(c export.Caller, param, value, resourceType string) (id string, ok bool, err error) {
	if !strings.HasPrefix(value, "arn:") {
		return value, true, nil
	}
	a, perr := ParseARN(value)
	if perr != nil || a.ResourceType != resourceType || a.Partition != Partition {
		return "", false, export.Errorf(export.CodeInvalidParameterValue,
			"The parameter %s is not valid: %s is not a valid %s ARN.", param, value, resourceType)
	}
	if !a.ownedBy(c) {
		return "", false, nil
	}
	return a.ID, true, nil
}

// filterIdentifier is resolveIdentifier for filter values: a value that is
// not a usable ARN simply matches nothing.
func filterIdentifier(c export.Caller, value, resourceType string) (string, bool) {
	if !strings.HasPrefix(value, "arn:") {
		return value, true
	}
	a, err := ParseARN(value)
	if err != nil || a.ResourceType != resourceType || !a.ownedBy(c) {
		return "", false
	}
	return a.ID, true
}
