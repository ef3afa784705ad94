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

// FormatVersion is the version of the copy layout written by Copier. Source
// refuses manifests of another version.
const FormatVersion = 1

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
	Batches        []manifestBatch `json:"batches"`
}

// manifestBatch is one batch of a table: its files in row order.
type manifestBatch struct {
	Rows int64 `json:"rows"`
	// SourceBytes is what the live source reported as read for the batch;
	// Source reports the same amount as progress when it reads the copy.
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
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: %s has format version %d, want %d", ErrFormat, location, m.FormatVersion, FormatVersion)
	}
	return &m, nil
}
