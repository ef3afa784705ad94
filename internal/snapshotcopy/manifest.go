package snapshotcopy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// FormatVersion is the version of the copy layout written by Copier.
// Version 2 stores each batch as a list of ranges (engine.Table.Ranges);
// Source also reads version 1 manifests, whose batches hold their files
// directly, as batches of one range. It refuses other versions.
const FormatVersion = 2

// formatVersion1 is the first layout: one file series per batch.
const formatVersion1 = 1

// ManifestName is the name of the manifest under a copy's location. It is
// written after every data file, so a copy without it is incomplete.
const ManifestName = "manifest.json"

// ErrIncomplete is wrapped by Source.Open and Source.Version when the copy
// has no manifest: it was never finished (or was deleted), and its data
// must not be served.
var ErrIncomplete = errors.New("snapshot copy is incomplete: no manifest")

// ErrFormat is wrapped when a manifest cannot be read: invalid JSON, an
// unknown FormatVersion, or an undecodable schema.
var ErrFormat = errors.New("snapshot copy manifest is not readable")

// manifest is manifest.json: everything Source needs besides the data.
type manifest struct {
	FormatVersion int    `json:"formatVersion"`
	Engine        string `json:"engine"`
	EngineVersion string `json:"engineVersion"`
	// SnapshotTime is the moment of the data (the live snapshot's Time).
	SnapshotTime time.Time `json:"snapshotTime"`
	// CaseInsensitiveNames makes ExportOnly match names case-insensitively
	// (MySQL with lower_case_table_names ≠ 0).
	CaseInsensitiveNames bool            `json:"caseInsensitiveNames"`
	Tables               []manifestTable `json:"tables"`
	// Warnings are those of the live snapshot's Tables (skipped tables,
	// databases whose tables could not be listed).
	Warnings engine.Warnings `json:"warnings"`
	// StoredBytes is the size of the data files.
	StoredBytes int64 `json:"storedBytes"`
}

// manifestTable is one engine.Table with its stored files.
type manifestTable struct {
	Target   string `json:"target"`
	Database string `json:"database"`
	Folder   string `json:"folder"`
	// Schema is the Arrow schema as a base64 Arrow IPC stream without
	// batches, so that empty tables keep their exact types too.
	Schema         string          `json:"arrowSchema"`
	Columns        []engine.Column `json:"columns"`
	EstimatedBytes int64           `json:"estimatedBytes"`
	// Ranges is the live table's engine.Table.Ranges when its batches were
	// copied range by range (each batch then has that many ranges), and
	// at most 1 otherwise. Version 1 manifests have none.
	Ranges  int             `json:"ranges,omitempty"`
	Batches []manifestBatch `json:"batches"`
}

// manifestBatch is one batch of a table: its ranges in order.
type manifestBatch struct {
	Rows int64 `json:"rows"`
	// SourceBytes is what the live source reported as read for the batch;
	// Source reports the same amount as progress when it reads the copy.
	SourceBytes int64 `json:"sourceBytes"`
	// Ranges are the batch's ranged reads (one when the batch was read in
	// one piece), each with its own file series, as an export writes them
	// (spec §8.2: one part-<range> series per range).
	Ranges []manifestRange `json:"ranges,omitempty"`
	// Files holds the files of a version 1 batch; readManifest moves them
	// into a single range.
	Files []manifestFile `json:"files,omitempty"`
}

// manifestRange is one ranged read of a batch: its files in row order. An
// empty range has no file.
type manifestRange struct {
	Rows int64 `json:"rows"`
	// SourceBytes is what the live source reported as read for the range.
	SourceBytes int64          `json:"sourceBytes"`
	Files       []manifestFile `json:"files"`
}

// manifestFile is one Parquet file of a batch.
type manifestFile struct {
	// Key is relative to the copy's location.
	Key         string `json:"key"`
	Rows        int64  `json:"rows"`
	Bytes       int64  `json:"bytes"`
	SourceBytes int64  `json:"sourceBytes"`
}

// encodeSchema serialises s as an Arrow IPC stream holding only the schema.
func encodeSchema(s *arrow.Schema) (string, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("encode schema: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// decodeSchema reverses encodeSchema. Errors wrap ErrFormat.
func decodeSchema(text string) (*arrow.Schema, error) {
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%w: schema: %w", ErrFormat, err)
	}
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: schema: %w", ErrFormat, err)
	}
	defer r.Release()
	return r.Schema(), nil
}

// readManifest loads the manifest of the copy at location. Errors wrap
// ErrIncomplete when it is missing, ErrFormat when it cannot be decoded,
// or are the Blobs' errors.
func readManifest(ctx context.Context, blobs Blobs, location string) (*manifest, error) {
	body, err := blobs.Get(ctx, location+"/"+ManifestName)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("open snapshot copy %s: %w", location, ErrIncomplete)
	}
	if err != nil {
		return nil, fmt.Errorf("open snapshot copy %s: %w", location, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", location, err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFormat, location, err)
	}
	switch m.FormatVersion {
	case FormatVersion:
	case formatVersion1:
		for i := range m.Tables {
			for j := range m.Tables[i].Batches {
				b := &m.Tables[i].Batches[j]
				b.Ranges = []manifestRange{{Rows: b.Rows, SourceBytes: b.SourceBytes, Files: b.Files}}
				b.Files = nil
			}
		}
	default:
		return nil, fmt.Errorf("%w: %s has format version %d, want %d or %d", ErrFormat, location, m.FormatVersion, formatVersion1, FormatVersion)
	}
	for _, t := range m.Tables {
		for j, b := range t.Batches {
			if len(b.Ranges) == 0 || (t.Ranges > 1 && len(b.Ranges) != t.Ranges) {
				return nil, fmt.Errorf("%w: %s: table %s batch %d has %d ranges, table has %d", ErrFormat, location, t.Target, j+1, len(b.Ranges), t.Ranges)
			}
		}
	}
	return &m, nil
}
