package mysqlsource

import "github.com/rdsexport/rdsexport/internal/engine"

// ReadThroughDriver makes snap read rows through the driver, as it does on
// TLS connections, instead of the wire reader.
func ReadThroughDriver(snap engine.Snapshot) { snap.(*snapshot).driverRows = true }

// ReadsOnWire reports whether snap reads rows with the wire reader.
func ReadsOnWire(snap engine.Snapshot) bool {
	s := snap.(*snapshot)
	return s.src.plain && !s.driverRows
}
