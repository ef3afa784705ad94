package pgsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// Batch limits: a record batch is emitted when either is reached. 16Ki
// rows rather than more: the builders' buffers are garbage once the batch
// is encoded, and smaller batches cut the server's peak RSS on a lineitem
// export by a quarter (BENCHMARKS.md) at no measurable cost in time.
const (
	batchRows  = 16 << 10
	batchBytes = 16 << 20
)

// ErrUnknownTable is returned (wrapped) by ReadBatch for a table that the
// snapshot's Tables did not return, or a batch index out of range.
var ErrUnknownTable = errors.New("table not listed by this snapshot")

// ReadBatch streams batch (0-based) of t with COPY ... TO STDOUT in text
// format, decoding rows straight into Arrow builders and emitting a record
// batch every 16Ki rows or 16 MiB of COPY data, then a final partial one
// (none for an empty batch). progress receives the COPY bytes consumed.
// It reads the whole batch, whatever t.Ranges says.
//
// Errors: ErrUnknownTable, ErrClosed, the first error of emit, ctx's error
// (the COPY is interrupted and its connection closed), server and decode
// errors. Row data never appears in an error.
func (s *snapshot) ReadBatch(ctx context.Context, t engine.Table, batch int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	plan, err := s.plan(t, batch)
	if err != nil {
		return err
	}
	return s.copy(ctx, t, plan, plan.rels[batch], "", emit, progress)
}

var _ engine.RangeReader = (*snapshot)(nil)

// ReadRange is ReadBatch restricted to the heap blocks of range rng: a TID
// Range Scan (PostgreSQL 14+) on the snapshot, so ranges read by several
// connections at once each scan their own part of the table. The first
// range has no lower bound and the last no upper one, so rows in blocks
// added after the ranges were planned are still read (none are visible in
// the snapshot, but the bounds need not be exact). Errors are those of
// ReadBatch, and ErrUnknownTable for a range out of bounds.
func (s *snapshot) ReadRange(ctx context.Context, t engine.Table, batch, rng int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	plan, err := s.plan(t, batch)
	if err != nil {
		return err
	}
	n := max(len(plan.bounds), 1)
	if rng < 0 || rng >= n {
		return fmt.Errorf("read %s range %d: %w", t.Target, rng, ErrUnknownTable)
	}
	var conds []string
	if rng > 0 {
		conds = append(conds, fmt.Sprintf("ctid >= '(%d,0)'::tid", plan.bounds[rng]))
	}
	if rng < n-1 {
		conds = append(conds, fmt.Sprintf("ctid < '(%d,0)'::tid", plan.bounds[rng+1]))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return s.copy(ctx, t, plan, plan.rels[batch], where, emit, progress)
}

// plan returns the plan of t after checking batch.
func (s *snapshot) plan(t engine.Table, batch int) (*tablePlan, error) {
	s.mu.Lock()
	plan, closed := s.plans[t.Target], s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if plan == nil || batch < 0 || batch >= len(plan.rels) {
		return nil, fmt.Errorf("read %s batch %d: %w", t.Target, batch, ErrUnknownTable)
	}
	return plan, nil
}

// copy runs one COPY of rel (with an optional WHERE clause) on a reader
// connection.
func (s *snapshot) copy(ctx context.Context, t engine.Table, plan *tablePlan, rel, where string, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	db := s.byName[plan.db]
	conn, err := s.acquire(ctx, db)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Target, err)
	}
	defer s.release(db, conn)

	dec := newDecoder(s.alloc, plan.schema, plan.kinds, emit, progress)
	defer dec.release()
	sql := "COPY (SELECT " + plan.cols + " FROM ONLY " + rel + where + ") TO STDOUT"
	_, err = conn.PgConn().CopyTo(ctx, dec, sql)
	switch {
	case dec.err != nil:
		// emit or decoding failed; pgx closed the connection to stop
		// the COPY.
		return dec.err
	case ctx.Err() != nil:
		return fmt.Errorf("read %s: %w", t.Target, ctx.Err())
	case isUndefinedTable(err):
		// Dropped by another session since the snapshot began: the
		// engine reports it as a skipped table.
		return fmt.Errorf("read %s: %w (%v)", t.Target, engine.ErrTableGone, s.src.redact(err))
	case err != nil && conn.PgConn().IsClosed() && !isServerError(err):
		// The server went away without a word (a terminated backend
		// often shows only as an EOF): say so plainly.
		return fmt.Errorf("read %s: connection to the server lost: %w", t.Target, s.src.redact(err))
	case err != nil:
		return fmt.Errorf("read %s: %w", t.Target, s.src.redact(err))
	}
	if err := sameStorage(ctx, conn, t, rel); err != nil {
		return err
	}
	if err := dec.finish(); err != nil {
		return err
	}
	return nil
}

// sameStorage checks, after a COPY, that rel is still the relation the
// snapshot sees, with the same storage file. TRUNCATE and the ALTER TABLE
// forms that rewrite a table are not MVCC-safe: committed before the COPY
// took its lock, they leave the snapshot an empty table, and a table
// dropped and created again under the same name shows none of its rows.
// The COPY's lock, held until the reader's transaction ends, keeps them out
// from then on. The catalog query sees the snapshot's row; the functions
// see the current catalog.
func sameStorage(ctx context.Context, conn *pgx.Conn, t engine.Table, rel string) error {
	var same bool
	// A partitioned table has no storage (relfilenode 0).
	err := conn.QueryRow(ctx, `SELECT c.relfilenode = 0 OR coalesce(c.relfilenode = pg_catalog.pg_relation_filenode(c.oid), false)
		FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`, rel).Scan(&same)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// The name now belongs to a table created after the snapshot.
		return fmt.Errorf("read %s: %w (replaced by a new table of the same name)", t.Target, engine.ErrTableGone)
	case err != nil:
		return fmt.Errorf("read %s: check its storage: %w", t.Target, err)
	case !same:
		return &engine.SourceError{Msg: fmt.Sprintf("The table %s was truncated or rewritten after the export's snapshot began, "+
			"so its rows at the snapshot can no longer be read.", t.Target)}
	}
	return nil
}

// column is one Arrow builder with its decoding.
type column struct {
	kind colKind
	b    array.Builder // nil for kindString and kindBinary
	bin  *bytesColumn  // kindString, kindBinary
	bl   *array.BooleanBuilder
	i16  *array.Int16Builder
	i32  *array.Int32Builder
	i64  *array.Int64Builder
	f32  *array.Float32Builder
	f64  *array.Float64Builder
}

// decoder is an io.Writer for PgConn.CopyTo that parses COPY text format
// (one row per line, tab-separated fields, \N for NULL, backslash escapes)
// into Arrow builders.
type decoder struct {
	schema   *arrow.Schema
	cols     []column
	emit     func(arrow.RecordBatch) error
	progress func(int64)

	rows      int // rows in the builders
	bytes     int // COPY bytes in the builders
	reserve   int // rows to reserve for the next batch
	consumed  int64
	reported  int64
	pending   []byte // incomplete line from the previous Write
	scratch   []byte // unescaped field
	scratch2  []byte // decoded bytea
	err       error
	arraysBuf []arrow.Array
}

func newDecoder(alloc memory.Allocator, schema *arrow.Schema, kinds []colKind, emit func(arrow.RecordBatch) error, progress func(int64)) *decoder {
	d := &decoder{schema: schema, emit: emit, progress: progress, reserve: 1024}
	d.cols = make([]column, len(kinds))
	for i, k := range kinds {
		c := &d.cols[i]
		c.kind = k
		switch k {
		case kindString:
			c.bin = newBytesColumn(arrow.BinaryTypes.String)
		case kindBinary:
			c.bin = newBytesColumn(arrow.BinaryTypes.Binary)
		case kindBool:
			c.bl = array.NewBooleanBuilder(alloc)
			c.b = c.bl
		case kindInt16:
			c.i16 = array.NewInt16Builder(alloc)
			c.b = c.i16
		case kindInt32:
			c.i32 = array.NewInt32Builder(alloc)
			c.b = c.i32
		case kindInt64:
			c.i64 = array.NewInt64Builder(alloc)
			c.b = c.i64
		case kindFloat32:
			c.f32 = array.NewFloat32Builder(alloc)
			c.b = c.f32
		case kindFloat64:
			c.f64 = array.NewFloat64Builder(alloc)
			c.b = c.f64
		}
	}
	d.arraysBuf = make([]arrow.Array, len(kinds))
	d.reserveRows()
	return d
}

func (d *decoder) release() {
	for i := range d.cols {
		if b := d.cols[i].b; b != nil {
			b.Release()
		}
	}
}

func (d *decoder) reserveRows() {
	// Sizing the builders like the previous batch avoids regrowing them
	// while the next one fills.
	for i := range d.cols {
		if b := d.cols[i].b; b != nil {
			b.Reserve(d.reserve)
		}
	}
}

// Write consumes COPY data. PostgreSQL sends one row per CopyData message,
// but lines split across writes are handled too.
func (d *decoder) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := len(p)
	d.consumed += int64(n)
	if len(d.pending) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.pending = append(d.pending, p...)
			return n, nil
		}
		d.pending = append(d.pending, p[:i]...)
		p = p[i+1:]
		if err := d.row(d.pending); err != nil {
			d.err = err
			return 0, err
		}
		if cap(d.pending) > 1<<20 {
			d.pending = nil
		} else {
			d.pending = d.pending[:0]
		}
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.pending = append(d.pending, p...)
			break
		}
		if err := d.row(p[:i]); err != nil {
			d.err = err
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// finish emits the last partial batch after the COPY completed.
func (d *decoder) finish() error {
	if len(d.pending) > 0 {
		return errors.New("copy data ended inside a row")
	}
	if err := d.flush(); err != nil {
		return err
	}
	d.report()
	return nil
}

func (d *decoder) report() {
	if d.progress != nil && d.consumed > d.reported {
		d.progress(d.consumed - d.reported)
		d.reported = d.consumed
	}
}

// row decodes one line (without its newline).
func (d *decoder) row(line []byte) error {
	d.bytes += len(line) + 1
	// A line without a backslash has no NULL and no escape, which spares
	// each field its own search; most lines have none.
	plain := bytes.IndexByte(line, '\\') < 0
	last := len(d.cols) - 1
	for i := range d.cols {
		var f []byte
		if i == last {
			f = line
		} else {
			// Fields are short: a loop beats IndexByte's call.
			j := 0
			for j < len(line) && line[j] != '\t' {
				j++
			}
			if j == len(line) {
				return fmt.Errorf("copy row %d: %d fields, want %d", d.rows+1, i+1, len(d.cols))
			}
			f, line = line[:j], line[j+1:]
		}
		if err := d.field(&d.cols[i], f, plain); err != nil {
			return fmt.Errorf("column %q: %w", d.schema.Field(i).Name, err)
		}
	}
	d.rows++
	if d.rows >= batchRows || d.bytes >= batchBytes {
		if err := d.flush(); err != nil {
			return err
		}
		d.report()
	}
	return nil
}

// errValue reports an unparsable value without quoting it (row data
// stays out of errors).
var errValue = errors.New("invalid value in COPY output")

// field decodes f into c; plain says its line has no backslash.
func (d *decoder) field(c *column, f []byte, plain bool) error {
	if !plain && len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		if c.bin != nil {
			c.bin.appendNull()
		} else {
			c.b.AppendNull()
		}
		return nil
	}
	switch c.kind {
	case kindString:
		if !plain && bytes.IndexByte(f, '\\') >= 0 {
			d.scratch = unescape(d.scratch[:0], f)
			f = d.scratch
		}
		c.bin.append(f)
	case kindBinary:
		b, err := d.bytea(f)
		if err != nil {
			return err
		}
		c.bin.append(b)
	case kindBool:
		switch {
		case len(f) == 1 && f[0] == 't':
			c.bl.Append(true)
		case len(f) == 1 && f[0] == 'f':
			c.bl.Append(false)
		default:
			return errValue
		}
	case kindInt16:
		v, err := parseInt(f, 16)
		if err != nil {
			return err
		}
		c.i16.Append(int16(v))
	case kindInt32:
		v, err := parseInt(f, 32)
		if err != nil {
			return err
		}
		c.i32.Append(int32(v))
	case kindInt64:
		v, err := parseInt(f, 64)
		if err != nil {
			return err
		}
		c.i64.Append(v)
	case kindFloat32:
		v, err := strconv.ParseFloat(unsafeString(f), 32)
		if err != nil {
			return errValue
		}
		c.f32.Append(float32(v))
	case kindFloat64:
		v, err := strconv.ParseFloat(unsafeString(f), 64)
		if err != nil {
			return errValue
		}
		c.f64.Append(v)
	}
	return nil
}

// flush emits the builders' rows as one record batch.
func (d *decoder) flush() error {
	if d.rows == 0 {
		return nil
	}
	for i := range d.cols {
		c := &d.cols[i]
		if c.bin != nil {
			d.arraysBuf[i] = c.bin.newArray()
		} else {
			d.arraysBuf[i] = c.b.NewArray()
		}
	}
	rec := array.NewRecordBatch(d.schema, d.arraysBuf, int64(d.rows))
	for i, a := range d.arraysBuf {
		a.Release()
		d.arraysBuf[i] = nil
	}
	d.reserve = d.rows
	d.rows, d.bytes = 0, 0
	err := d.emit(rec)
	rec.Release()
	if err != nil {
		return err
	}
	d.reserveRows()
	return nil
}

// parseInt parses a PostgreSQL integer output (optional '-', digits).
func parseInt(f []byte, bits int) (int64, error) {
	if len(f) > 0 && len(f) < 19 {
		neg := f[0] == '-'
		i := 0
		if neg {
			i = 1
			if len(f) == 1 {
				return 0, errValue
			}
		}
		var v int64
		for ; i < len(f); i++ {
			c := f[i] - '0'
			if c > 9 {
				return 0, errValue
			}
			v = v*10 + int64(c)
		}
		if neg {
			v = -v
		}
		if bits < 64 && (v < -(1<<(bits-1)) || v >= 1<<(bits-1)) {
			return 0, errValue
		}
		return v, nil
	}
	v, err := strconv.ParseInt(unsafeString(f), 10, bits)
	if err != nil {
		return 0, errValue
	}
	return v, nil
}

// unsafeString views b as a string for parsers that do not retain it.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// unescape appends the COPY text field f with its backslash escapes
// decoded: \b \f \n \r \t \v \\, \NNN (1-3 octal digits), \xHH (1-2 hex
// digits); a backslash before any other character stands for that
// character.
func unescape(dst, f []byte) []byte {
	for len(f) > 0 {
		i := bytes.IndexByte(f, '\\')
		if i < 0 {
			return append(dst, f...)
		}
		dst = append(dst, f[:i]...)
		f = f[i+1:]
		if len(f) == 0 {
			return append(dst, '\\')
		}
		c := f[0]
		f = f[1:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := c - '0'
			for k := 0; k < 2 && len(f) > 0 && f[0] >= '0' && f[0] <= '7'; k++ {
				v = v<<3 | (f[0] - '0')
				f = f[1:]
			}
			dst = append(dst, v)
		case 'x':
			if len(f) > 0 && isHex(f[0]) {
				v := unhex(f[0])
				f = f[1:]
				if len(f) > 0 && isHex(f[0]) {
					v = v<<4 | unhex(f[0])
					f = f[1:]
				}
				dst = append(dst, v)
			} else {
				dst = append(dst, 'x')
			}
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// bytea decodes a bytea field. With bytea_output=hex the server writes
// `\x` + hex digits, which COPY escapes to `\\x...`; the escape format
// (octal escapes) is decoded too in case a server overrides the setting.
func (d *decoder) bytea(f []byte) ([]byte, error) {
	if len(f) >= 3 && f[0] == '\\' && f[1] == '\\' && f[2] == 'x' {
		return d.hexBytes(f[3:])
	}
	d.scratch = unescape(d.scratch[:0], f)
	t := d.scratch
	if len(t) >= 2 && t[0] == '\\' && t[1] == 'x' {
		return d.hexBytes(t[2:])
	}
	// Escape format: \\ is a backslash, \NNN an octal byte.
	out := d.scratch2[:0]
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] != '\\':
			out = append(out, t[i])
		case i+1 < len(t) && t[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(t) && isOct(t[i+1]) && isOct(t[i+2]) && isOct(t[i+3]):
			out = append(out, (t[i+1]-'0')<<6|(t[i+2]-'0')<<3|(t[i+3]-'0'))
			i += 3
		default:
			return nil, errValue
		}
	}
	d.scratch2 = out
	return out, nil
}

func (d *decoder) hexBytes(h []byte) ([]byte, error) {
	if len(h)%2 != 0 {
		return nil, errValue
	}
	out := d.scratch2[:0]
	if cap(out) < len(h)/2 {
		out = make([]byte, 0, len(h)/2)
	}
	for i := 0; i < len(h); i += 2 {
		a, b := h[i], h[i+1]
		if !isHex(a) || !isHex(b) {
			return nil, errValue
		}
		out = append(out, unhex(a)<<4|unhex(b))
	}
	d.scratch2 = out
	return out, nil
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// isUndefinedTable reports a "relation does not exist" error (42P01).
func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// isServerError reports whether err carries the server's own message.
func isServerError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}
