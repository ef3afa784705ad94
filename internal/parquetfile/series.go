package parquetfile

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// sliceRows is how many rows a Series writes between two file size checks.
const sliceRows = 16384

// SeriesParams configures NewSeries.
type SeriesParams struct {
	// Schema is the schema of every file.
	Schema *arrow.Schema
	// Writer configures each file's Writer.
	Writer WriterParams
	// FileBytes is the compressed size at which a file is closed; the next
	// row begins the next file.
	FileBytes int64
	// Key names file i (0-based) of the series.
	Key func(i int) string
	// Put stores a file: it reads body to its end while the file is being
	// written and returns once the object exists. When ctx ends or body
	// fails, it returns an error and leaves no object under key.
	Put func(ctx context.Context, key string, body io.Reader) error
}

// File is one stored file of a Series.
type File struct {
	Key   string
	Rows  int64
	Bytes int64 // compressed size
	// SourceBytes is what AddSourceBytes counted while the file was being
	// written; the last file also gets what was counted outside any file.
	SourceBytes int64
}

// Series writes the rows of one read as a series of Parquet files of about
// FileBytes each, storing each one through Put as it is written. Its files
// are uploaded one at a time; it is not safe for concurrent use. Write
// rows, then Close, or Abort on failure.
type Series struct {
	p      SeriesParams
	cur    *pipeFile
	files  []File
	source int64 // counted by AddSourceBytes
	start  int64 // source when cur began
	// dict is the column encodings the first file predicted; the later
	// files of the read take them instead of sampling again, which cost
	// 4% of an export's CPU (BENCHMARKS.md).
	dict []bool
}

// NewSeries returns a Series that has not yet begun a file.
func NewSeries(p SeriesParams) *Series { return &Series{p: p} }

// Write appends the rows of rec, in slices so that a file ends near
// FileBytes whatever the size of rec. It does not keep rec. The upload of
// a file begun here runs under ctx. Errors are the encoder's and Put's.
func (s *Series) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() <= sliceRows {
		return s.writeSlice(ctx, rec)
	}
	for off := int64(0); off < rec.NumRows(); off += sliceRows {
		sl := rec.NewSlice(off, min(off+sliceRows, rec.NumRows()))
		err := s.writeSlice(ctx, sl)
		sl.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSlice appends rec to the current file, beginning one when needed
// and closing it once it reaches FileBytes.
func (s *Series) writeSlice(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if s.cur == nil {
		f, err := newPipeFile(ctx, s.p, s.p.Key(len(s.files)), s.dict)
		if err != nil {
			return err
		}
		s.cur, s.start = f, s.source
		s.files = append(s.files, File{Key: f.key})
	}
	if err := s.cur.w.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", s.cur.key, err)
	}
	if s.dict == nil && s.cur.w.enc != nil {
		s.dict = s.cur.w.enc.encodings()
	}
	s.files[len(s.files)-1].Rows += rec.NumRows()
	if s.cur.w.Size() >= s.p.FileBytes {
		return s.closeFile()
	}
	return nil
}

// AddSourceBytes counts n bytes of source data read into the series.
func (s *Series) AddSourceBytes(n int64) { s.source += n }

func (s *Series) closeFile() error {
	f := s.cur
	s.cur = nil
	n, err := f.close()
	last := &s.files[len(s.files)-1]
	last.Bytes, last.SourceBytes = n, s.source-s.start
	return err
}

// Close finishes the last file and returns the files in order; a series
// without rows has none. Errors are the encoder's and Put's.
func (s *Series) Close() ([]File, error) {
	if s.cur != nil {
		if err := s.closeFile(); err != nil {
			return nil, err
		}
	}
	if n := len(s.files); n > 0 {
		var sum int64
		for _, f := range s.files {
			sum += f.SourceBytes
		}
		s.files[n-1].SourceBytes += s.source - sum
	}
	return s.files, nil
}

// Abort drops the file being written, which Put does not store. Files
// closed before stay stored.
func (s *Series) Abort() {
	if s.cur != nil {
		s.cur.abort()
		s.cur = nil
	}
}

// pipeFile is a Parquet file uploaded as it is written: the encoder writes
// into a pipe whose other end is the body of Put.
type pipeFile struct {
	key  string
	w    *Writer
	pipe *io.PipeWriter
	done chan error
}

func newPipeFile(ctx context.Context, p SeriesParams, key string, dict []bool) (*pipeFile, error) {
	pr, pipe := io.Pipe()
	f := &pipeFile{key: key, pipe: pipe, done: make(chan error, 1)}
	go func() {
		err := p.Put(ctx, key, pr)
		// Unblock the encoder if the upload stopped early.
		pr.CloseWithError(fmt.Errorf("upload of %s ended: %w", key, errors.Join(err, errUploadEnded)))
		f.done <- err
	}()
	w, err := newWriter(pipe, p.Schema, p.Writer, dict)
	if err != nil {
		pipe.CloseWithError(err)
		<-f.done
		return nil, fmt.Errorf("write %s: %w", key, err)
	}
	f.w = w
	return f, nil
}

var (
	errUploadEnded = errors.New("upload ended")
	errAborted     = errors.New("parquet file aborted")
)

// close finishes the file, waits until the object exists and returns its
// size.
func (f *pipeFile) close() (int64, error) {
	if err := f.w.Close(); err != nil {
		f.pipe.CloseWithError(err)
		<-f.done
		return 0, fmt.Errorf("write %s: %w", f.key, err)
	}
	f.pipe.Close()
	if err := <-f.done; err != nil {
		return 0, fmt.Errorf("upload %s: %w", f.key, err)
	}
	return f.w.Size(), nil
}

// abort drops the file: Put sees an error and stores nothing.
func (f *pipeFile) abort() {
	f.pipe.CloseWithError(errAborted)
	_ = f.w.Close() // releases encoder memory; the write error is expected
	<-f.done
}
