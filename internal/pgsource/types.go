package pgsource

import "github.com/apache/arrow-go/v18/arrow"

// colKind is how one COPY text field is decoded into Arrow.
type colKind uint8

const (
	kindString colKind = iota // PostgreSQL output text, as is
	kindBinary                // bytea, hex output decoded to raw bytes
	kindBool
	kindInt16
	kindInt32
	kindInt64
	kindFloat32
	kindFloat64
)

// Type OIDs of the built-in types with a non-text mapping (pg_type.dat).
const (
	oidBool   = 16
	oidBytea  = 17
	oidInt8   = 20
	oidInt2   = 21
	oidInt4   = 23
	oidFloat4 = 700
	oidFloat8 = 701
)

// omittedTypes are the object-identifier family: internal system values
// that spec §9.2 does not export, so their columns are left out.
var omittedTypes = map[uint32]bool{
	24:   true, // regproc
	26:   true, // oid
	27:   true, // tid
	28:   true, // xid
	29:   true, // cid
	30:   true, // oidvector
	2202: true, // regprocedure
	2203: true, // regoper
	2204: true, // regoperator
	2205: true, // regclass
	2206: true, // regtype
	3734: true, // regconfig
	3769: true, // regdictionary
	4089: true, // regnamespace
	4096: true, // regrole
	4191: true, // regcollation
	5069: true, // xid8
}

// typeMapping returns the decoding, Arrow type and manifest
// expectedExportedType of a column of type typid (spec §9.2, §8.4), or
// ok=false when the column is omitted. Only the exact built-in types map
// to numbers, booleans or bytes; everything else, domains over those
// included, is exported as PostgreSQL's output text.
func typeMapping(typid uint32) (kind colKind, dt arrow.DataType, expected string, ok bool) {
	if omittedTypes[typid] {
		return 0, nil, "", false
	}
	switch typid {
	case oidBool:
		return kindBool, arrow.FixedWidthTypes.Boolean, "boolean", true
	case oidBytea:
		return kindBinary, arrow.BinaryTypes.Binary, "binary", true
	case oidInt2:
		// pqarrow writes Int16 as INT32 annotated INT(16, true).
		return kindInt16, arrow.PrimitiveTypes.Int16, "int32", true
	case oidInt4:
		return kindInt32, arrow.PrimitiveTypes.Int32, "int32", true
	case oidInt8:
		return kindInt64, arrow.PrimitiveTypes.Int64, "int64", true
	case oidFloat4:
		return kindFloat32, arrow.PrimitiveTypes.Float32, "float", true
	case oidFloat8:
		return kindFloat64, arrow.PrimitiveTypes.Float64, "double", true
	}
	return kindString, arrow.BinaryTypes.String, "binary (UTF8)", true
}
