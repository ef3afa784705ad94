package mysqlsource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/go-sql-driver/mysql"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// Batch limits: a record batch is emitted when either is reached. 16Ki
// rows, as in pgsource: smaller batches stay in cache between decoding and
// encoding and are garbage sooner (-22% bytes allocated per 100k rows).
const (
	batchRows  = 16 << 10
	batchBytes = 16 << 20
)

// ErrUnknownTable is returned (wrapped) by ReadBatch and ReadRange for a
// table that the snapshot's Tables did not return, or a batch or range
// index out of bounds.
var ErrUnknownTable = errors.New("table not listed by this snapshot")

// ErrTableGone is returned (wrapped) by ReadBatch when the table or
// partition no longer exists, or was created or rebuilt (ALTER, TRUNCATE)
// after the snapshot's moment so that the snapshot cannot read it. The
// engine reports such a table as a warning instead of failing the export.
var ErrTableGone = engine.ErrTableGone

// ReadBatch streams batch (0-based) of t, the whole table or one
// partition (`SELECT cols FROM db.t PARTITION (p)`), on an idle reader of
// the snapshot, decoding the text protocol's raw values straight into
// the columns of a record batch (Go memory, not the snapshot's
// allocator's) and emitting one every 16Ki rows or 16 MiB,
// then a final partial one (none for an empty batch). progress receives
// the bytes of row data read. Values with no Parquet equivalent (zero or
// impossible dates) are written as NULL and counted for ReadWarnings. It
// reads the whole batch, whatever t.Ranges says.
//
// When ctx ends the reader's connection is closed (by the driver) or its
// socket given a past deadline (by the wire reader), which stops the
// query at once; that reader (like one whose emit failed) is lost to the
// snapshot (see ErrSnapshotLost).
//
// Errors: ErrUnknownTable, ErrClosed, ErrSnapshotLost, ErrTableGone, the
// first error of emit, ctx's error, server errors naming the server's
// address. Row data never appears in an error.
func (s *snapshot) ReadBatch(ctx context.Context, t engine.Table, batch int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	plan, err := s.plan(t, batch)
	if err != nil {
		return err
	}
	return s.read(ctx, t, plan, batch, "", emit, progress)
}

var _ engine.RangeReader = (*snapshot)(nil)

// ReadRange is ReadBatch restricted to range rng of the table's integer
// primary key (`WHERE pk >= lo AND pk < hi`): an InnoDB clustered index
// range scan in the snapshot, so ranges read by several readers at once
// each scan their own part of the table. The first range has no lower
// bound and the last no upper one, so keys outside the MIN and MAX read
// when the ranges were planned are still read. A table that Tables did not
// split has one range, the whole batch. Errors are those of ReadBatch, and
// ErrUnknownTable for a range out of bounds.
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
		conds = append(conds, plan.key+" >= "+strconv.FormatInt(plan.bounds[rng], 10))
	}
	if rng < n-1 {
		conds = append(conds, plan.key+" < "+strconv.FormatInt(plan.bounds[rng+1], 10))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return s.read(ctx, t, plan, batch, where, emit, progress)
}

// plan returns the plan of t after checking batch.
func (s *snapshot) plan(t engine.Table, batch int) (*tablePlan, error) {
	s.mu.Lock()
	plan, closed := s.plans[t.Target], s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if plan == nil || batch < 0 || batch >= max(len(plan.parts), 1) {
		return nil, fmt.Errorf("read %s batch %d: %w", t.Target, batch, ErrUnknownTable)
	}
	return plan, nil
}

// read runs one SELECT of batch (with an optional WHERE clause) on an idle
// reader.
func (s *snapshot) read(ctx context.Context, t engine.Table, plan *tablePlan, batch int, where string, emit func(arrow.RecordBatch) error, progress func(bytes int64)) (err error) {
	c, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Target, err)
	}
	discard := false
	defer func() { s.release(c, discard) }()

	q := "SELECT " + plan.cols + " FROM " + plan.from
	if plan.parts != nil {
		q += " PARTITION (" + plan.parts[batch] + ")"
	}
	q += where
	dec := newDecoder(plan, emit, progress)
	defer func() {
		dec.release()
		if dec.invalid > 0 {
			s.mu.Lock()
			s.invalid[t.Target] += dec.invalid
			s.mu.Unlock()
		}
	}()
	if c.plain && !s.driverRows {
		discard, err = s.readWire(ctx, c, t, dec, q)
	} else {
		discard, err = s.readDriver(ctx, c, t, dec, q)
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		// The last rows may have been buffered before the cancel.
		return fmt.Errorf("read %s: %w", t.Target, ctx.Err())
	}
	return dec.finish()
}

// readWire reads the result of q through the wire reader (wire.go) and
// reports whether the connection must be discarded.
func (s *snapshot) readWire(ctx context.Context, c *conn, t engine.Table, dec *decoder, q string) (discard bool, err error) {
	// The driver closes its connection when ctx ends; here a past
	// deadline stops the read at once, and the connection is discarded.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			discard = true
		}
	}()
	p := newWire(c.nc)
	cols, err := p.query(q)
	if err != nil {
		var me *mysql.MySQLError
		return !errors.As(err, &me), s.readErr(ctx, c, t, wireErr(err))
	}
	if cols != len(dec.cols) {
		// The rest of the result is not read.
		return true, fmt.Errorf("read %s: %d columns, want %d: %w", t.Target, cols, len(dec.cols), ErrTableGone)
	}
	for {
		row, err := p.next()
		if err != nil {
			var me *mysql.MySQLError
			return !errors.As(err, &me) || p.r != p.w, s.readErr(ctx, c, t, wireErr(err))
		}
		if row == nil {
			return false, nil
		}
		if err := dec.packet(row); err != nil {
			// Reading the rest of the result could take long; closing
			// the connection stops the query.
			if errors.Is(err, errProtocol) {
				err = s.readErr(ctx, c, t, wireErr(err))
			}
			return true, err
		}
	}
}

// readDriver reads the result of q through the driver (on TLS
// connections), turning its values back into the text protocol's bytes,
// and reports whether the connection must be discarded.
func (s *snapshot) readDriver(ctx context.Context, c *conn, t engine.Table, dec *decoder, q string) (bool, error) {
	rows, err := c.q.QueryContext(ctx, q, nil)
	if err != nil {
		return false, s.readErr(ctx, c, t, err)
	}
	dest := make([]driver.Value, len(rows.Columns()))
	if len(dest) != len(dec.cols) {
		_ = rows.Close()
		return false, fmt.Errorf("read %s: %d columns, want %d: %w", t.Target, len(dest), len(dec.cols), ErrTableGone)
	}
	vals := make([][]byte, len(dest))
	scratch := make([][]byte, len(dest))
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = rows.Close()
			return false, s.readErr(ctx, c, t, err)
		}
		for i, v := range dest {
			vals[i], scratch[i] = driverBytes(v, scratch[i])
		}
		if err := dec.row(vals); err != nil {
			// Draining the rest of the result could take long; closing
			// the connection stops the query.
			_ = rows.Close()
			return true, err
		}
	}
	if err := rows.Close(); err != nil {
		return false, s.readErr(ctx, c, t, err)
	}
	return false, nil
}

// driverBytes returns v as the text protocol sent it (numbers formatted
// back into scratch, which it returns grown); nil for NULL.
func driverBytes(v driver.Value, scratch []byte) ([]byte, []byte) {
	switch x := v.(type) {
	case nil:
		return nil, scratch
	case []byte:
		return x, scratch
	case int64:
		scratch = strconv.AppendInt(scratch[:0], x, 10)
	case uint64:
		scratch = strconv.AppendUint(scratch[:0], x, 10)
	case float64:
		scratch = strconv.AppendFloat(scratch[:0], x, 'g', -1, 64)
	case float32:
		scratch = strconv.AppendFloat(scratch[:0], float64(x), 'g', -1, 32)
	case string:
		scratch = append(scratch[:0], x...)
	default:
		scratch = fmt.Appendf(scratch[:0], "%v", v)
	}
	return scratch, scratch
}

func (s *snapshot) readErr(ctx context.Context, c *conn, t engine.Table, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("read %s: %w", t.Target, ctx.Err())
	case isMySQLError(err, erNoSuchTable, erTableDefChanged, erUnknownPartition, erBadFieldError):
		// A column of the snapshot's definition was dropped or renamed
		// since (erBadFieldError): an instant ALTER TABLE is not
		// versioned, and the snapshot's rows can no longer be read whole.
		return fmt.Errorf("read %s: %w (%s)", t.Target, ErrTableGone, s.src.redact(err))
	case c.nc.TimedOut():
		return fmt.Errorf("read %s from %s: %w", t.Target, s.src.addr, s.src.lostErr(c, err))
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The driver's "invalid connection" says nothing to a user: the
		// connection was killed, the server restarted or the network
		// failed.
		return fmt.Errorf("read %s from %s: connection to the server lost: %w", t.Target, s.src.addr, s.src.redact(err))
	}
	return fmt.Errorf("read %s from %s: %w", t.Target, s.src.addr, s.src.redact(err))
}

// column is one column's values (columns.go) with its decoding.
type column struct {
	kind  colKind
	scale int32
	b     builder
	bin   *bytesColumn // kindString, kindDate, kindBinary
	i16   *fixedColumn[int16]
	i32   *fixedColumn[int32]
	i64   *fixedColumn[int64]
	f64   *fixedColumn[float64]
	dec   *fixedColumn[decimal128.Num]
	ts    *fixedColumn[arrow.Timestamp]
}

// decoder turns rows of text protocol values into record batches.
type decoder struct {
	schema   *arrow.Schema
	cols     []column
	emit     func(arrow.RecordBatch) error
	progress func(int64)

	rows      int   // rows in the columns
	bytes     int   // row bytes in the columns
	invalid   int64 // values written as NULL
	arraysBuf []arrow.Array
}

func newDecoder(plan *tablePlan, emit func(arrow.RecordBatch) error, progress func(int64)) *decoder {
	d := &decoder{schema: plan.schema, emit: emit, progress: progress}
	d.cols = make([]column, len(plan.kinds))
	for i, k := range plan.kinds {
		c := &d.cols[i]
		c.kind, c.scale = k, plan.scales[i]
		dt := plan.schema.Field(i).Type
		switch k {
		case kindString, kindDate, kindBinary:
			c.bin = newBytesColumn(dt)
			c.b = c.bin
		case kindInt16:
			c.i16 = newFixedColumn[int16](dt)
			c.b = c.i16
		case kindInt32:
			c.i32 = newFixedColumn[int32](dt)
			c.b = c.i32
		case kindInt64:
			c.i64 = newFixedColumn[int64](dt)
			c.b = c.i64
		case kindUint64, kindDecimal:
			c.dec = newFixedColumn[decimal128.Num](dt)
			c.b = c.dec
		case kindFloat64:
			c.f64 = newFixedColumn[float64](dt)
			c.b = c.f64
		case kindDatetime:
			c.ts = newFixedColumn[arrow.Timestamp](dt)
			c.b = c.ts
		}
	}
	d.arraysBuf = make([]arrow.Array, len(d.cols))
	return d
}

func (d *decoder) release() {
	for i, a := range d.arraysBuf {
		if a != nil {
			a.Release()
			d.arraysBuf[i] = nil
		}
	}
}

// errValue reports an undecodable value without quoting it (row data
// stays out of errors).
var errValue = errors.New("unexpected value from the server")

// row appends one row of text protocol values (nil for NULL).
func (d *decoder) row(vals [][]byte) error {
	for i, v := range vals {
		if err := d.append(i, v); err != nil {
			return err
		}
	}
	return d.endRow()
}

// packet appends the row of a row packet of the wire reader; errProtocol
// when the packet does not hold one value per column.
func (d *decoder) packet(data []byte) error {
	pos := 0
	for i := range d.cols {
		v, next, ok := nextValue(data, pos)
		if !ok {
			return errProtocol
		}
		pos = next
		if err := d.append(i, v); err != nil {
			return err
		}
	}
	if pos != len(data) {
		return errProtocol
	}
	return d.endRow()
}

// append appends value v of column i.
func (d *decoder) append(i int, v []byte) error {
	n, err := d.value(&d.cols[i], v)
	if err != nil {
		return fmt.Errorf("column %q: %w", d.schema.Field(i).Name, err)
	}
	d.bytes += n
	return nil
}

// endRow counts a row and emits a batch when one is full.
func (d *decoder) endRow() error {
	d.rows++
	if d.rows >= batchRows || d.bytes >= batchBytes {
		return d.flush()
	}
	return nil
}

// value appends b and returns its size in bytes (8 for a number, as its
// Arrow size).
func (d *decoder) value(c *column, b []byte) (int, error) {
	if b == nil {
		c.b.appendNull()
		return 1, nil
	}
	switch c.kind {
	case kindString, kindBinary:
		c.bin.append(b)
		return len(b), nil
	case kindDate:
		if !validDate(b) {
			d.invalid++
			c.b.appendNull()
		} else {
			c.bin.append(b)
		}
		return len(b), nil
	case kindDatetime:
		us, ok := parseDateTime(b)
		if !ok {
			d.invalid++
			c.b.appendNull()
		} else {
			c.ts.append(arrow.Timestamp(us))
		}
		return len(b), nil
	case kindFloat64:
		// FLOAT columns are selected as DOUBLE (tables.go).
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return 0, errValue
		}
		c.f64.append(f)
		return 8, nil
	case kindUint64:
		if len(b) > 0 && b[0] == '-' {
			x, ok := parseInt(b)
			if !ok {
				return 0, errValue
			}
			c.dec.append(decimal128.FromI64(x))
		} else {
			x, ok := parseUint(b)
			if !ok {
				return 0, errValue
			}
			c.dec.append(decimal128.FromU64(x))
		}
		return 8, nil
	case kindDecimal:
		n, err := parseDecimal(b, c.scale)
		if err != nil {
			return 0, err
		}
		c.dec.append(n)
		return len(b), nil
	}
	x, ok := parseInt(b)
	if !ok {
		return 0, errValue
	}
	switch c.kind {
	case kindInt16:
		c.i16.append(int16(x))
	case kindInt32:
		c.i32.append(int32(x))
	case kindInt64:
		c.i64.append(x)
	}
	return 8, nil
}

// parseInt parses a decimal integer that fits in an int64; leading zeros
// are allowed (ZEROFILL columns send them).
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := parseUint(b)
	switch {
	case !ok || u > 1<<63 || u == 1<<63 && !neg:
		return 0, false
	case neg:
		return -int64(u), true
	}
	return int64(u), true
}

// parseUint parses unsigned decimal digits that fit in a uint64.
func parseUint(b []byte) (uint64, bool) {
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' || u > (1<<64-1)/10 {
			return 0, false
		}
		d := uint64(c - '0')
		if u*10 > 1<<64-1-d {
			return 0, false
		}
		u = u*10 + d
	}
	return u, len(b) > 0
}

// finish emits the last partial batch.
func (d *decoder) finish() error {
	return d.flush()
}

// flush emits the builders' rows as one record batch and reports
// progress.
func (d *decoder) flush() error {
	if d.rows == 0 {
		return nil
	}
	for i := range d.cols {
		d.arraysBuf[i] = d.cols[i].b.newArray()
	}
	rec := array.NewRecordBatch(d.schema, d.arraysBuf, int64(d.rows))
	for i, a := range d.arraysBuf {
		a.Release()
		d.arraysBuf[i] = nil
	}
	if d.progress != nil {
		d.progress(int64(d.bytes))
	}
	d.rows, d.bytes = 0, 0
	err := d.emit(rec)
	rec.Release()
	return err
}

var pow10u64 = func() (p [19]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// parseDecimal parses the server's DECIMAL text ("-123.4500": optional
// sign, digits, optional fraction) as an unscaled Decimal128 of scale.
func parseDecimal(b []byte, scale int32) (decimal128.Num, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg || len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	var (
		n              decimal128.Num
		chunk          uint64
		chunkDigits    int
		digits, frac   int
		seenDot, dirty bool
	)
	for _, ch := range b {
		if ch == '.' {
			if seenDot {
				return n, errValue
			}
			seenDot = true
			continue
		}
		if ch < '0' || ch > '9' {
			return n, errValue
		}
		chunk = chunk*10 + uint64(ch-'0')
		chunkDigits++
		digits++
		if seenDot {
			frac++
		}
		if chunkDigits == 18 {
			n = n.Mul(decimal128.FromU64(pow10u64[18])).Add(decimal128.FromU64(chunk))
			chunk, chunkDigits, dirty = 0, 0, true
		}
	}
	if digits == 0 || digits > 38 || frac > int(scale) {
		return n, errValue
	}
	if chunkDigits > 0 {
		if dirty {
			n = n.Mul(decimal128.FromU64(pow10u64[chunkDigits]))
		}
		n = n.Add(decimal128.FromU64(chunk))
	}
	for rest := int(scale) - frac; rest > 0; rest -= 18 {
		n = n.Mul(decimal128.FromU64(pow10u64[min(rest, 18)]))
	}
	if neg {
		n = n.Negate()
	}
	return n, nil
}

// validDate reports whether b ("YYYY-MM-DD") is a calendar date; zero
// dates and dates with a zero month or day (which MySQL accepts) are not.
func validDate(b []byte) bool {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return false
	}
	y, ok1 := atoi(b[0:4])
	m, ok2 := atoi(b[5:7])
	d, ok3 := atoi(b[8:10])
	return ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
}

// parseDate returns the days since 1970-01-01 of "YYYY-MM-DD".
func parseDate(b []byte) (int64, bool) {
	if !validDate(b) {
		return 0, false
	}
	y, _ := atoi(b[0:4])
	m, _ := atoi(b[5:7])
	d, _ := atoi(b[8:10])
	return daysFromCivil(y, m, d), true
}

// parseDateTime returns the microseconds since the Unix epoch of
// "YYYY-MM-DD HH:MM:SS[.ffffff]" (read as UTC).
func parseDateTime(b []byte) (int64, bool) {
	if len(b) < 19 || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	days, ok := parseDate(b[:10])
	if !ok {
		return 0, false
	}
	h, ok1 := atoi(b[11:13])
	mi, ok2 := atoi(b[14:16])
	s, ok3 := atoi(b[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	var us int64
	if len(b) > 19 {
		f := b[20:]
		if b[19] != '.' || len(f) == 0 || len(f) > 6 {
			return 0, false
		}
		v, ok := atoi(f)
		if !ok {
			return 0, false
		}
		us = v * int64(pow10u64[6-len(f)])
	}
	return ((days*24+h)*60+mi)*60*1_000_000 + s*1_000_000 + us, true
}

func atoi(b []byte) (int64, bool) {
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, len(b) > 0
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the proleptic Gregorian day number relative to
// 1970-01-01 (H. Hinnant's algorithm), valid for years 0..9999.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
