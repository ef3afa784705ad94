package awsquery

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Namespace is the default XML namespace of every response document.
const Namespace = "http://rds.amazonaws.com/doc/2014-10-31/"

// timeFormat is how RDS writes timestamps: UTC, milliseconds, Z (spec §1.3).
const timeFormat = "2006-01-02T15:04:05.000Z"

// xmlWriter builds a response document indented by two spaces per level.
// Element names are constants of this package; only text is escaped.
type xmlWriter struct {
	buf   bytes.Buffer
	depth int
}

func (x *xmlWriter) bytes() []byte { return x.buf.Bytes() }

func (x *xmlWriter) header() {
	x.buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
}

func (x *xmlWriter) indent() {
	for range x.depth {
		x.buf.WriteString("  ")
	}
}

// openNS opens the root element with the RDS namespace.
func (x *xmlWriter) openNS(name string) {
	x.indent()
	x.buf.WriteString("<" + name + ` xmlns="` + Namespace + `">` + "\n")
	x.depth++
}

func (x *xmlWriter) open(name string) {
	x.indent()
	x.buf.WriteString("<" + name + ">\n")
	x.depth++
}

func (x *xmlWriter) close(name string) {
	x.depth--
	x.indent()
	x.buf.WriteString("</" + name + ">\n")
}

// empty writes <name/>, used for empty lists and empty result wrappers.
func (x *xmlWriter) empty(name string) {
	x.indent()
	x.buf.WriteString("<" + name + "/>\n")
}

// str writes <name>v</name> with v escaped; v may be empty.
func (x *xmlWriter) str(name, v string) {
	x.indent()
	x.buf.WriteString("<" + name + ">")
	x.escape(v)
	x.buf.WriteString("</" + name + ">\n")
}

// optStr writes the element only when v is not empty.
func (x *xmlWriter) optStr(name, v string) {
	if v != "" {
		x.str(name, v)
	}
}

// escape writes v as XML character data: the markup characters become
// entities, a carriage return becomes &#xD; so that parsers do not
// normalise it away, and anything that is not a valid XML character
// (invalid UTF-8, most C0 controls) becomes U+FFFD.
func (x *xmlWriter) escape(v string) {
	last := 0
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		var rep string
		switch {
		case r == '&':
			rep = "&amp;"
		case r == '<':
			rep = "&lt;"
		case r == '>':
			rep = "&gt;"
		case r == '\r':
			rep = "&#xD;"
		case r == utf8.RuneError && size == 1, !isXMLChar(r):
			rep = "\uFFFD"
		}
		if rep != "" {
			x.buf.WriteString(v[last:i])
			x.buf.WriteString(rep)
			last = i + size
		}
		i += size
	}
	x.buf.WriteString(v[last:])
}

// isXMLChar reports whether r is allowed by the Char production of XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func (x *xmlWriter) int(name string, v int64) {
	x.indent()
	x.buf.WriteString("<" + name + ">")
	x.buf.WriteString(strconv.FormatInt(v, 10))
	x.buf.WriteString("</" + name + ">\n")
}

func (x *xmlWriter) bool(name string, v bool) {
	x.indent()
	x.buf.WriteString("<" + name + ">")
	x.buf.WriteString(strconv.FormatBool(v))
	x.buf.WriteString("</" + name + ">\n")
}

// time writes a timestamp; a zero time is absent and omitted, because an
// empty timestamp element breaks the Go SDK (spec §1.3 rule 4).
func (x *xmlWriter) time(name string, t time.Time) {
	if t.IsZero() {
		return
	}
	x.indent()
	x.buf.WriteString("<" + name + ">")
	x.buf.WriteString(t.UTC().Format(timeFormat))
	x.buf.WriteString("</" + name + ">\n")
}

// strList writes a wrapped list of strings; a nil list is omitted and an
// empty one is written as <name/>.
func (x *xmlWriter) strList(name, item string, vs []string) {
	if vs == nil {
		return
	}
	if len(vs) == 0 {
		x.empty(name)
		return
	}
	x.open(name)
	for _, v := range vs {
		x.str(item, v)
	}
	x.close(name)
}

// writeXML sends a finished document.
func writeXML(w http.ResponseWriter, requestID string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("X-Amzn-Requestid", requestID)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client has gone; nothing to do
}

// arnContext carries what ARNs are minted from: the caller's region and
// account (spec §2.3).
type arnContext struct {
	Region    string
	AccountID string
}

func (a arnContext) arn(account, resourceType, id string) string {
	if account == "" {
		account = a.AccountID
	}
	return "arn:aws:rds:" + a.Region + ":" + account + ":" + resourceType + ":" + id
}

// exportTask writes the members of an ExportTask (spec §2.1) inside the
// element the caller opened.
func (x *xmlWriter) exportTask(t *export.Task) {
	x.str("ExportTaskIdentifier", t.Identifier)
	x.optStr("SourceArn", t.SourceArn)
	x.strList("ExportOnly", "member", t.ExportOnly)
	x.time("SnapshotTime", t.SnapshotTime)
	x.time("TaskStartTime", t.TaskStartTime)
	x.time("TaskEndTime", t.TaskEndTime)
	x.optStr("S3Bucket", t.S3Bucket)
	// AWS shows "" for a task started without a prefix (spec §2.1).
	x.str("S3Prefix", t.S3Prefix)
	x.optStr("IamRoleArn", t.IamRoleArn)
	x.optStr("KmsKeyId", t.KmsKeyID)
	x.optStr("Status", string(t.Status))
	x.int("PercentProgress", int64(t.PercentProgress))
	x.int("TotalExtractedDataInGB", int64(t.TotalExtractedDataInGB()))
	x.optStr("FailureCause", t.FailureCause)
	x.optStr("WarningMessage", t.WarningMessage)
	x.optStr("SourceType", string(t.SourceType))
}

// dbCluster writes the members of a DBCluster the server populates
// (spec §4.8); element names are the model's.
func (x *xmlWriter) dbCluster(a arnContext, c *export.DBCluster) {
	x.str("DBClusterIdentifier", c.Identifier)
	x.str("DBClusterArn", a.arn(c.AccountID, "cluster", c.Identifier))
	x.optStr("Engine", c.Engine)
	x.optStr("EngineVersion", c.EngineVersion)
	x.str("EngineMode", "provisioned")
	x.optStr("Status", c.Status)
	x.optStr("Endpoint", c.Endpoint)
	// There are no replicas: readers connect to the same server.
	x.optStr("ReaderEndpoint", c.Endpoint)
	if c.Port != 0 {
		x.int("Port", int64(c.Port))
	}
	x.optStr("MasterUsername", c.MasterUsername)
	x.optStr("DatabaseName", c.DatabaseName)
	x.time("ClusterCreateTime", c.CreateTime)
	x.optStr("DbClusterResourceId", c.ResourceID)
	x.bool("StorageEncrypted", false)
	x.bool("MultiAZ", false)
	// Aurora reports 1 because its storage grows on demand; the configured
	// servers have no fixed allocation either.
	x.int("AllocatedStorage", 1)
	x.empty("DBClusterMembers")
	x.empty("TagList")
}

// dbInstance writes the members of a DBInstance the server populates
// (spec §4.7); element names are the model's.
func (x *xmlWriter) dbInstance(a arnContext, d *export.DBInstance) {
	x.str("DBInstanceIdentifier", d.Identifier)
	x.str("DBInstanceArn", a.arn(d.AccountID, "db", d.Identifier))
	x.str("DBInstanceClass", "db.t3.medium")
	x.optStr("Engine", d.Engine)
	x.optStr("EngineVersion", d.EngineVersion)
	x.optStr("DBInstanceStatus", d.Status)
	x.optStr("MasterUsername", d.MasterUsername)
	x.optStr("DBName", d.DBName)
	if d.Address != "" || d.Port != 0 {
		x.open("Endpoint")
		x.optStr("Address", d.Address)
		if d.Port != 0 {
			x.int("Port", int64(d.Port))
		}
		x.close("Endpoint")
	}
	if d.Port != 0 {
		x.int("DbInstancePort", int64(d.Port))
	}
	x.int("AllocatedStorage", int64(d.AllocatedStorage))
	x.time("InstanceCreateTime", d.CreateTime)
	x.str("StorageType", "gp3")
	x.bool("StorageEncrypted", false)
	x.optStr("DbiResourceId", d.ResourceID)
	x.optStr("DBClusterIdentifier", d.ClusterIdentifier)
	x.bool("MultiAZ", false)
	x.bool("PubliclyAccessible", false)
	x.bool("DeletionProtection", false)
	x.empty("TagList")
}

// snapshotARN is the ARN of a snapshot: its own region and account, else
// the caller's (spec §2.3).
func (a arnContext) snapshotARN(s *export.Snapshot, resourceType string) string {
	region := s.Region
	if region == "" {
		region = a.Region
	}
	return arnContext{Region: region, AccountID: a.AccountID}.arn(s.AccountID, resourceType, s.Identifier)
}

func snapshotRegion(a arnContext, s *export.Snapshot) string {
	if s.Region != "" {
		return s.Region
	}
	return a.Region
}

// licenseModel is the LicenseModel RDS reports for an engine: PostgreSQL
// engines have postgresql-license, MySQL and MariaDB ones
// general-public-license.
func licenseModel(engine string) string {
	switch export.EngineFamily(engine) {
	case "postgres":
		return "postgresql-license"
	case "mysql":
		return "general-public-license"
	}
	return ""
}

// tagList writes a TagList; no tags is the empty <TagList/>.
func (x *xmlWriter) tagList(tags []export.Tag) {
	if len(tags) == 0 {
		x.empty("TagList")
		return
	}
	x.open("TagList")
	for _, t := range tags {
		x.open("Tag")
		x.str("Key", t.Key)
		x.str("Value", t.Value)
		x.close("Tag")
	}
	x.close("TagList")
}

// dbSnapshot writes the members of a DBSnapshot the server populates (spec
// Appendix B), in model order; element names are the model's. There is no
// VPC, so VpcId is omitted.
func (x *xmlWriter) dbSnapshot(a arnContext, s *export.Snapshot) {
	region := snapshotRegion(a, s)
	x.str("DBSnapshotIdentifier", s.Identifier)
	x.optStr("DBInstanceIdentifier", s.SourceIdentifier)
	x.time("SnapshotCreateTime", s.CreateTime)
	x.optStr("Engine", s.Engine)
	x.int("AllocatedStorage", int64(s.AllocatedStorage))
	x.optStr("Status", string(s.Status))
	if s.Port != 0 {
		x.int("Port", int64(s.Port))
	}
	x.str("AvailabilityZone", region+"a")
	x.time("InstanceCreateTime", s.SourceCreateTime)
	x.optStr("MasterUsername", s.MasterUsername)
	x.optStr("EngineVersion", s.EngineVersion)
	x.optStr("LicenseModel", licenseModel(s.Engine))
	x.optStr("SnapshotType", s.Type)
	x.int("PercentProgress", int64(s.PercentProgress))
	x.str("StorageType", "gp3")
	x.bool("Encrypted", false)
	x.str("DBSnapshotArn", a.snapshotARN(s, "snapshot"))
	x.bool("IAMDatabaseAuthenticationEnabled", false)
	x.empty("ProcessorFeatures")
	x.optStr("DbiResourceId", s.SourceResourceID)
	x.tagList(s.Tags)
	x.str("SnapshotTarget", "region")
	x.time("OriginalSnapshotCreateTime", s.CreateTime)
	x.bool("MultiTenant", false)
	x.bool("DedicatedLogVolume", false)
}

// dbClusterSnapshot writes the members of a DBClusterSnapshot the server
// populates (spec Appendix B), in model order; element names are the
// model's.
func (x *xmlWriter) dbClusterSnapshot(a arnContext, s *export.Snapshot) {
	x.open("AvailabilityZones")
	x.str("AvailabilityZone", snapshotRegion(a, s)+"a")
	x.close("AvailabilityZones")
	x.str("DBClusterSnapshotIdentifier", s.Identifier)
	x.optStr("DBClusterIdentifier", s.SourceIdentifier)
	x.time("SnapshotCreateTime", s.CreateTime)
	x.optStr("Engine", s.Engine)
	x.str("EngineMode", "provisioned")
	x.int("AllocatedStorage", int64(s.AllocatedStorage))
	x.optStr("Status", string(s.Status))
	if s.Port != 0 {
		x.int("Port", int64(s.Port))
	}
	x.time("ClusterCreateTime", s.SourceCreateTime)
	x.optStr("MasterUsername", s.MasterUsername)
	x.optStr("EngineVersion", s.EngineVersion)
	x.optStr("LicenseModel", licenseModel(s.Engine))
	x.optStr("SnapshotType", s.Type)
	x.int("PercentProgress", int64(s.PercentProgress))
	x.bool("StorageEncrypted", false)
	x.str("DBClusterSnapshotArn", a.snapshotARN(s, "cluster-snapshot"))
	x.bool("IAMDatabaseAuthenticationEnabled", false)
	x.tagList(s.Tags)
	// Aurora cluster storage is "aurora"; Multi-AZ DB clusters of the other
	// engines use provisioned volumes, reported as gp3 like instances.
	storage := "gp3"
	if strings.HasPrefix(s.Engine, "aurora") {
		storage = "aurora"
	}
	x.str("StorageType", storage)
	x.optStr("DbClusterResourceId", s.SourceResourceID)
}
