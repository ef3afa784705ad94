package mysqlsource

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/go-sql-driver/mysql"
)

// wire runs one SELECT on a connection's socket and reads its text
// protocol result set itself, without the driver. The driver hands each
// value over as a driver.Value, an interface that costs a heap allocation
// per value (its []byte header or its int64): on a table like TPC-H
// lineitem that was about a fifth of an export's CPU. Here a row is split
// into slices of the read buffer, with no allocation.
//
// It is used between two of the driver's commands, when the driver has
// read the whole answer to its last command and the server, which sends
// nothing unasked, has nothing more in flight; the driver's state (its
// packet sequence restarts with each command) is untouched. It is only
// used on connections without TLS or compression, which live inside the
// driver.
//
// Packets are described in the MySQL client/server protocol
// documentation: "Text Resultset" (COM_QUERY response) and, for
// CLIENT_DEPRECATE_EOF, "OK_Packet".
type wire struct {
	nc      net.Conn
	buf     []byte // buf[r:w] is read and not yet consumed
	r, w    int
	seq     byte   // sequence number of the next packet
	pending []byte // a packet read ahead by query, returned by next
}

const (
	maxPacket   = 1<<24 - 1 // payload of a packet that has a continuation
	wireBufSize = 64 << 10
	comQuery    = 0x03
	pktOK       = 0x00
	pktEOF      = 0xfe
	pktErr      = 0xff
)

// errProtocol reports an answer the reader does not understand; the
// connection is then unusable.
var errProtocol = errors.New("malformed packet from the server")

func newWire(nc net.Conn) *wire {
	return &wire{nc: nc, buf: make([]byte, wireBufSize)}
}

// query sends q and reads the result set's header: the column count and
// the column definitions. A server error is returned as *mysql.MySQLError
// (the connection stays usable); any other error leaves the connection
// unusable.
func (p *wire) query(q string) (cols int, err error) {
	if len(q)+1 >= maxPacket {
		return 0, errors.New("statement too long")
	}
	pkt := make([]byte, 5+len(q))
	n := 1 + len(q)
	pkt[0], pkt[1], pkt[2], pkt[3], pkt[4] = byte(n), byte(n>>8), byte(n>>16), 0, comQuery
	copy(pkt[5:], q)
	if _, err := p.nc.Write(pkt); err != nil {
		return 0, err
	}
	p.seq = 1
	data, err := p.packet()
	if err != nil {
		return 0, err
	}
	switch data[0] {
	case pktErr:
		return 0, serverError(data)
	case pktOK, pktEOF, 0xfb: // no result set, or LOCAL INFILE
		return 0, errProtocol
	}
	count, _, ok := lenencInt(data)
	if !ok || count == 0 || count > 1<<16 {
		return 0, errProtocol
	}
	for range count {
		if _, err := p.packet(); err != nil {
			return 0, err
		}
	}
	// Without CLIENT_DEPRECATE_EOF an EOF packet (5 bytes) ends the
	// column definitions; with it, the rows follow at once and the
	// result ends with an OK packet whose header is 0xfe, which is at
	// least 7 bytes long. Which one the driver negotiated is its secret,
	// but the lengths tell them apart.
	data, err = p.packet()
	if err != nil {
		return 0, err
	}
	if !(data[0] == pktEOF && len(data) == 5) {
		p.pending = data
	}
	return int(count), nil
}

// next returns the next row packet, or nil at the end of the result. The
// row is valid until the next call.
func (p *wire) next() ([]byte, error) {
	data := p.pending
	p.pending = nil
	if data == nil {
		var err error
		if data, err = p.packet(); err != nil {
			return nil, err
		}
	}
	switch {
	case data[0] == pktEOF && len(data) < maxPacket:
		// An EOF or OK packet; a row starting with 0xfe holds a value of
		// 16 MiB or more.
		if p.r != p.w {
			return nil, errProtocol // more than the answer
		}
		return nil, nil
	case data[0] == pktErr:
		return nil, serverError(data)
	}
	return data, nil
}

// packet reads one packet's payload, joining a payload of 16 MiB or more
// sent in several packets. The payload aliases p.buf (a joined one does
// not) and is valid until the next call.
func (p *wire) packet() ([]byte, error) {
	var joined []byte
	for {
		if err := p.fill(4); err != nil {
			return nil, err
		}
		h := p.buf[p.r : p.r+4]
		n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
		if h[3] != p.seq {
			return nil, errProtocol
		}
		p.seq++
		p.r += 4
		if err := p.fill(n); err != nil {
			return nil, err
		}
		data := p.buf[p.r : p.r+n : p.r+n]
		p.r += n
		if n < maxPacket {
			if joined != nil {
				return append(joined, data...), nil
			}
			if n == 0 {
				return nil, errProtocol
			}
			return data, nil
		}
		joined = append(joined, data...)
	}
}

// fill makes p.buf[p.r:p.w] hold at least n bytes.
func (p *wire) fill(n int) error {
	if p.w-p.r >= n {
		return nil
	}
	if len(p.buf)-p.r < n {
		buf := p.buf
		if len(buf) < n {
			buf = make([]byte, max(n, 2*len(buf)))
		}
		p.w = copy(buf, p.buf[p.r:p.w])
		p.r, p.buf = 0, buf
	}
	m, err := io.ReadAtLeast(p.nc, p.buf[p.w:], n-(p.w-p.r))
	p.w += m
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// nextValue returns the value of a row packet that starts at pos, nil for
// NULL, and the position after it; false when data holds no whole value
// there.
func nextValue(data []byte, pos int) ([]byte, int, bool) {
	if pos >= len(data) {
		return nil, 0, false
	}
	n, h := uint64(data[pos]), 1
	switch {
	case n == 0xfb:
		return nil, pos + 1, true
	case n > 0xfb:
		var ok bool
		if n, h, ok = lenencInt(data[pos:]); !ok {
			return nil, 0, false
		}
	}
	if n > uint64(len(data)-pos-h) {
		return nil, 0, false
	}
	start, end := pos+h, pos+h+int(n)
	return data[start:end:end], end, true
}

// lenencInt reads a length-encoded integer: its value and its size.
func lenencInt(b []byte) (uint64, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch b[0] {
	case 0xfc:
		if len(b) < 3 {
			return 0, 0, false
		}
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3, true
	case 0xfd:
		if len(b) < 4 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, true
	case 0xfe:
		if len(b) < 9 {
			return 0, 0, false
		}
		return binary.LittleEndian.Uint64(b[1:]), 9, true
	case 0xfb, 0xff:
		return 0, 0, false
	}
	return uint64(b[0]), 1, true
}

// serverError turns an ERR packet into the driver's error type, so that
// it reads and matches (isMySQLError) like the driver's own.
func serverError(data []byte) error {
	if len(data) < 3 {
		return errProtocol
	}
	e := &mysql.MySQLError{Number: binary.LittleEndian.Uint16(data[1:3])}
	msg := data[3:]
	if len(msg) >= 6 && msg[0] == '#' {
		copy(e.SQLState[:], msg[1:6])
		msg = msg[6:]
	}
	e.Message = string(msg)
	return e
}

// wireErr wraps a network error of the wire reader like the driver's: the
// connection is lost.
func wireErr(err error) error {
	var me *mysql.MySQLError
	if err == nil || errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("%w: %w", mysql.ErrInvalidConn, err)
}
