package mysqlsource

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// colKind is how one text protocol value is decoded into Arrow.
type colKind uint8

const (
	kindString   colKind = iota // text as the server sends it (UTF-8)
	kindBinary                  // raw bytes
	kindInt16                   // TINYINT UNSIGNED
	kindInt32                   // signed TINYINT..INT, SMALLINT UNSIGNED, YEAR
	kindInt64                   // BIGINT, INT/MEDIUMINT UNSIGNED
	kindUint64                  // BIGINT UNSIGNED as Decimal128(20,0)
	kindDecimal                 // DECIMAL(p ≤ 38, s) as Decimal128
	kindFloat64                 // DOUBLE, FLOAT (widened)
	kindDate                    // DATE as text, zero dates NULL
	kindDatetime                // DATETIME / TIMESTAMP as microseconds
)

// mysqlType is what information_schema.COLUMNS says of a column.
type mysqlType struct {
	dataType   string // DATA_TYPE, lowercase: "bigint", "varchar", ...
	columnType string // COLUMN_TYPE: "bigint(20) unsigned", ...
	precision  int64  // NUMERIC_PRECISION
	scale      int64  // NUMERIC_SCALE
}

// typeMapping returns the decoding, Arrow type and manifest
// expectedExportedType of a column (spec §9.1, §8.4). Types it does not
// know (MariaDB's inet4, inet6, uuid, ...) are exported as the server's
// text.
func typeMapping(t mysqlType) (colKind, arrow.DataType, string) {
	unsigned := strings.Contains(strings.ToLower(t.columnType), "unsigned")
	switch t.dataType {
	case "tinyint":
		if unsigned {
			// pqarrow writes Int16 as INT32 annotated INT(16, true).
			return kindInt16, arrow.PrimitiveTypes.Int16, "int32"
		}
		return kindInt32, arrow.PrimitiveTypes.Int32, "int32"
	case "smallint":
		return kindInt32, arrow.PrimitiveTypes.Int32, "int32"
	case "mediumint", "int", "integer":
		if unsigned {
			return kindInt64, arrow.PrimitiveTypes.Int64, "int64"
		}
		return kindInt32, arrow.PrimitiveTypes.Int32, "int32"
	case "bigint":
		if unsigned {
			// Signed Parquet decimals need 9 bytes for 2^64-1.
			return kindUint64, &arrow.Decimal128Type{Precision: 20, Scale: 0}, "fixed_len_byte_array(9)"
		}
		return kindInt64, arrow.PrimitiveTypes.Int64, "int64"
	case "decimal", "numeric":
		p, s := int32(t.precision), int32(t.scale)
		if p < 1 || p > 38 {
			return kindString, arrow.BinaryTypes.String, "binary (UTF8)"
		}
		return kindDecimal, &arrow.Decimal128Type{Precision: p, Scale: s}, decimalExported(p)
	case "float", "double", "real", "double precision":
		return kindFloat64, arrow.PrimitiveTypes.Float64, "double"
	case "year":
		return kindInt32, arrow.PrimitiveTypes.Int32, "int32"
	case "date":
		return kindDate, arrow.BinaryTypes.String, "binary (UTF8)"
	case "datetime":
		return kindDatetime, &arrow.TimestampType{Unit: arrow.Microsecond}, "int64"
	case "timestamp":
		return kindDatetime, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, "int64"
	case "bit", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection", "vector":
		return kindBinary, arrow.BinaryTypes.Binary, "binary"
	}
	// char, varchar, *text, enum, set, json, time and unknown types.
	return kindString, arrow.BinaryTypes.String, "binary (UTF8)"
}

// decimalExported is the Parquet type parquetfile stores a Decimal128 of
// precision p as (spec §9.1 decimal rule).
func decimalExported(p int32) string {
	switch {
	case p <= 9:
		return "int32"
	case p <= 18:
		return "int64"
	}
	return fmt.Sprintf("fixed_len_byte_array(%d)", decimalBytes(p))
}

// decimalBytes is the smallest n with 2^(8n-1) > 10^p - 1.
func decimalBytes(p int32) int {
	return int(math.Ceil((float64(p)*math.Log2(10) + 1) / 8))
}
