package snapshotcopy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// Bounds of the stored Parquet files.
const (
	// DefaultFileBytes is the compressed size at which a file is closed and
	// the next one of the batch begun.
	DefaultFileBytes = 64 << 20
	rowGroupRows     = 1 << 17
	rowGroupBytes    = 16 << 20
)

// batchWriter stores the record batches of one read (a table batch, or one
// range of it) as Parquet files <stem>-00000.parquet, <stem>-00001.parquet,
// ... in Blobs.
type batchWriter struct {
	blobs     Blobs
	location  string
	stem      string // relative to location
	schema    *arrow.Schema
	alloc     memory.Allocator
	fileBytes int64

	cur         *blobFile
	files       []manifestFile
	sourceBytes int64 // reported by the source for the whole read
	fileSource  int64 // sourceBytes when cur began
	rows        int64
}

// sliceRows is how many rows are written between two file size checks.
const sliceRows = 16384

// write appends rec in slices, so that files end near fileBytes whatever
// the batch size of the source. It does not keep rec.
func (w *batchWriter) write(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() <= sliceRows {
		return w.writeSlice(ctx, rec)
	}
	for off := int64(0); off < rec.NumRows(); off += sliceRows {
		s := rec.NewSlice(off, min(off+sliceRows, rec.NumRows()))
		err := w.writeSlice(ctx, s)
		s.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSlice appends rec to the current file, beginning one when needed
// and closing it once it reaches fileBytes.
func (w *batchWriter) writeSlice(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if w.cur == nil {
		key := fmt.Sprintf("%s-%05d.parquet", w.stem, len(w.files))
		f, err := newBlobFile(ctx, w.blobs, w.location+"/"+key, w.schema, w.alloc)
		if err != nil {
			return err
		}
		w.cur = f
		w.fileSource = w.sourceBytes
		w.files = append(w.files, manifestFile{Key: key})
	}
	if err := w.cur.write(rec); err != nil {
		return err
	}
	w.rows += rec.NumRows()
	w.files[len(w.files)-1].Rows += rec.NumRows()
	if w.cur.size() >= w.fileBytes {
		return w.closeFile()
	}
	return nil
}

// progress records source bytes read.
func (w *batchWriter) progress(n int64) { w.sourceBytes += n }

func (w *batchWriter) closeFile() error {
	f := w.cur
	w.cur = nil
	n, err := f.close()
	last := &w.files[len(w.files)-1]
	last.Bytes = n
	last.SourceBytes = w.sourceBytes - w.fileSource
	return err
}

// finish closes the last file and returns the range for the manifest.
// Source bytes reported after the last file closed are counted in it.
func (w *batchWriter) finish() (manifestRange, error) {
	if w.cur != nil {
		if err := w.closeFile(); err != nil {
			return manifestRange{}, err
		}
	}
	b := manifestRange{Rows: w.rows, SourceBytes: w.sourceBytes, Files: w.files}
	if n := len(b.Files); n > 0 {
		var sum int64
		for _, f := range b.Files {
			sum += f.SourceBytes
		}
		b.Files[n-1].SourceBytes += w.sourceBytes - sum
	}
	return b, nil
}

// abort drops the file being written; it leaves no blob.
func (w *batchWriter) abort() {
	if w.cur != nil {
		w.cur.abort()
		w.cur = nil
	}
}

// storedBytes is the size of the files closed so far.
func (w *batchWriter) storedBytes() int64 {
	var n int64
	for _, f := range w.files {
		n += f.Bytes
	}
	return n
}

// blobFile is a Parquet file uploaded as it is written: the encoder writes
// into a pipe whose other end is the body of Blobs.Put.
type blobFile struct {
	key  string
	pw   *parquetfile.Writer
	pipe *io.PipeWriter
	done chan error
}

func newBlobFile(ctx context.Context, blobs Blobs, key string, schema *arrow.Schema, alloc memory.Allocator) (*blobFile, error) {
	pr, pipe := io.Pipe()
	f := &blobFile{key: key, pipe: pipe, done: make(chan error, 1)}
	go func() {
		err := blobs.Put(ctx, key, pr)
		// Unblock the encoder if the upload stopped early.
		pr.CloseWithError(fmt.Errorf("store %s ended: %w", key, errors.Join(err, errUploadEnded)))
		f.done <- err
	}()
	// ZSTD at its default level, and the Arrow schema stored so that
	// Int16, Decimal128, time zones and String/Binary come back exactly on
	// read (spec §9 needs the original types).
	pw, err := parquetfile.NewWriter(pipe, schema, parquetfile.Options{
		Codec: parquetfile.ZSTD, CompressionLevel: -1, StoreSchema: true,
		MaxRowGroupRows: rowGroupRows, MaxRowGroupBytes: rowGroupBytes, Alloc: alloc,
	})
	if err != nil {
		pipe.CloseWithError(err)
		<-f.done
		return nil, fmt.Errorf("new parquet writer %s: %w", key, err)
	}
	f.pw = pw
	return f, nil
}

var errUploadEnded = errors.New("upload ended")

func (f *blobFile) write(rec arrow.RecordBatch) error {
	if err := f.pw.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", f.key, err)
	}
	return nil
}

// size is the compressed size so far, the buffered row group included.
func (f *blobFile) size() int64 { return f.pw.Size() }

// close finishes the file, waits until the blob exists and returns its
// size.
func (f *blobFile) close() (int64, error) {
	if err := f.pw.Close(); err != nil {
		f.pipe.CloseWithError(err)
		<-f.done
		return 0, fmt.Errorf("write %s: %w", f.key, err)
	}
	f.pipe.Close()
	if err := <-f.done; err != nil {
		return 0, fmt.Errorf("store %s: %w", f.key, err)
	}
	return f.pw.Size(), nil
}

// abort drops the file: Put sees an error and creates no blob.
func (f *blobFile) abort() {
	f.pipe.CloseWithError(errAborted)
	_ = f.pw.Close() // releases encoder memory; the write error is expected
	<-f.done
}

var errAborted = errors.New("snapshot copy file aborted")
