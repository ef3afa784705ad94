package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// exportTable writes every batch of t under
// <root>/<database>/<folder>/<batch>/ (spec §8.2) and a _SUCCESS marker in
// each batch folder once the batch is complete.
// Its rows, bytes and files are counted in c.
func (r *taskRun) exportTable(ctx context.Context, snap Snapshot, t Table, c *tableCounters) (tableResult, error) {
	res := tableResult{table: t}
	tableDir := r.root + "/" + keyPart(t.Database) + "/" + keyPart(t.Folder)
	if err := r.checkKey(tableDir + "/"); err != nil {
		return res, err
	}
	for b := range t.Batches {
		dir := fmt.Sprintf("%s/%d", tableDir, b+1)
		n, err := r.exportBatch(ctx, snap, t, b, dir, c)
		res.bytes += n
		if errors.Is(err, ErrTableGone) && (b > 0 || res.bytes > 0) {
			// Part of the table may be in S3 already: skipping it would
			// leave those files beside a manifest that says SKIPPED.
			return res, &readError{err: fmt.Errorf("%s went away after part of it was exported (%v)", t.Target, err)}
		}
		if err != nil {
			return res, err
		}
		if err := r.put(ctx, dir+"/_SUCCESS", strings.NewReader("")); err != nil {
			return res, fmt.Errorf("write %s/_SUCCESS: %w", dir, err)
		}
		res.partitions++
	}
	r.logger.Debug("table exported", "table", t.Target, "bytes", res.bytes)
	return res, nil
}

// exportBatch writes one batch: in one read, or, when t has Ranges and the
// snapshot can read them, in that many ranged reads run at once (at most
// Connections; the snapshot bounds its readers across tables too), each
// with its own partition_index. It returns the source bytes read.
func (r *taskRun) exportBatch(ctx context.Context, snap Snapshot, t Table, batch int, dir string, c *tableCounters) (int64, error) {
	rr, ok := snap.(RangeReader)
	if t.Ranges <= 1 || !ok {
		return r.exportRange(ctx, t, dir, 0, c, func(emit func(arrow.RecordBatch) error, progress func(int64)) error {
			return snap.ReadBatch(ctx, t, batch, emit, progress)
		})
	}
	var read atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.e.p.Connections)
	for rng := range t.Ranges {
		g.Go(func() error {
			n, err := r.exportRange(gctx, t, dir, rng, c, func(emit func(arrow.RecordBatch) error, progress func(int64)) error {
				return rr.ReadRange(gctx, t, batch, rng, emit, progress)
			})
			read.Add(n)
			return err
		})
	}
	err := g.Wait()
	return read.Load(), err
}

// exportRange streams one read into Parquet files of about FileBytes each:
// part-<partition>-<uuid>-c000.gz.parquet, then c001, ... (the Spark naming
// RDS uses). An empty read writes no file. It returns the source bytes read.
func (r *taskRun) exportRange(ctx context.Context, t Table, dir string, partition int, c *tableCounters,
	read func(emit func(arrow.RecordBatch) error, progress func(int64)) error) (int64, error) {
	var (
		n    int64
		file *objectFile
		seq  int
		stem = fmt.Sprintf("%s/part-%05d-%s", dir, partition, uuid.NewString())
	)
	defer func() {
		if file != nil {
			file.abort()
		}
	}()
	// write appends rows to the current file, starting one when needed and
	// closing it once it reaches FileBytes.
	write := func(rec arrow.RecordBatch) error {
		if file == nil {
			f, err := r.newObjectFile(ctx, fmt.Sprintf("%s-c%03d.gz.parquet", stem, seq), t.Schema)
			if err != nil {
				return err
			}
			file, seq = f, seq+1
		}
		if err := file.pw.Write(rec); err != nil {
			return err
		}
		c.rows.Add(rec.NumRows())
		if file.pw.Size() >= r.e.p.FileBytes {
			f := file
			file = nil
			if err := f.close(); err != nil {
				return err
			}
			c.files.Add(1)
		}
		return nil
	}
	// Batches are cut into slices so that a file ends near FileBytes
	// whatever the batch size of the source.
	var emitErr error // set when the read fails because emit did
	emit := func(rec arrow.RecordBatch) error {
		for off := int64(0); off < rec.NumRows(); off += sliceRows {
			s := rec.NewSlice(off, min(off+sliceRows, rec.NumRows()))
			err := write(s)
			s.Release()
			if err != nil {
				emitErr = err
				return err
			}
		}
		return nil
	}
	progress := func(b int64) {
		n += b
		r.extracted.Add(b)
		c.bytes.Add(b)
	}
	if err := read(emit, progress); err != nil {
		if emitErr == nil && ctx.Err() == nil && !errors.Is(err, ErrTableGone) {
			err = &readError{err: err}
		}
		return n, err
	}
	if file != nil {
		f := file
		file = nil
		if err := f.close(); err != nil {
			return n, err
		}
		c.files.Add(1)
	}
	return n, nil
}

// sliceRows is how many rows are written between two file size checks.
const sliceRows = 16384

// objectFile is a Parquet file being uploaded as it is written: the encoder
// writes into a pipe whose other end is the body of ObjectStore.Put.
type objectFile struct {
	key  string
	pw   *parquetfile.Writer
	pipe *io.PipeWriter
	done chan error
}

func (r *taskRun) newObjectFile(ctx context.Context, key string, schema *arrow.Schema) (*objectFile, error) {
	if err := r.checkKey(key); err != nil {
		return nil, err
	}
	pr, pipe := io.Pipe()
	f := &objectFile{key: key, pipe: pipe, done: make(chan error, 1)}
	go func() {
		err := r.e.p.Objects.Put(ctx, r.task.S3Bucket, key, pr)
		// Unblock the encoder if the upload stopped early.
		pr.CloseWithError(fmt.Errorf("upload ended: %w", err))
		f.done <- err
	}()
	pw, err := parquetfile.NewWriter(pipe, schema, r.e.p.Parquet)
	if err != nil {
		pipe.CloseWithError(err)
		<-f.done
		return nil, err
	}
	f.pw = pw
	return f, nil
}

// close finishes the file and waits until the object exists.
func (f *objectFile) close() error {
	if err := f.pw.Close(); err != nil {
		f.pipe.CloseWithError(err)
		<-f.done
		return fmt.Errorf("write %s: %w", f.key, err)
	}
	f.pipe.Close()
	if err := <-f.done; err != nil {
		return fmt.Errorf("upload %s: %w", f.key, err)
	}
	return nil
}

// abort drops the file: the upload sees an error and creates no object.
func (f *objectFile) abort() {
	f.pipe.CloseWithError(errAborted)
	_ = f.pw.Close() // releases encoder memory; the write error is expected
	<-f.done
}

var errAborted = fmt.Errorf("parquet file aborted")

// put writes one small object after checking its key.
func (r *taskRun) put(ctx context.Context, key string, body io.Reader) error {
	if err := r.checkKey(key); err != nil {
		return err
	}
	return r.e.p.Objects.Put(ctx, r.task.S3Bucket, key, body)
}

// checkKey refuses a key that is not under the export root or has an
// empty, "." or ".." segment. Sources skip names that would make such
// keys (a "/" in a name, a database named ".."); this is the last line
// against one that slips through, since a file-backed S3 server may
// resolve the segments and write outside the export's folder.
func (r *taskRun) checkKey(key string) error {
	if strings.HasPrefix(key, r.root+"/") && SafeKey(key) {
		return nil
	}
	return &SourceError{Msg: fmt.Sprintf(causeUnsafeKey, r.task.SourceArn, key, r.root)}
}

// causeUnsafeKey is the FailureCause of a refused key: the source ARN, the
// key and the export root.
const causeUnsafeKey = "The export of %s stopped: the S3 key %q would not stay under the export folder %s/ (a name with an empty, \".\" or \"..\" path segment)."

// SafeKey reports whether key (a "/"-separated S3 key or prefix; a
// trailing "/" is allowed) has no empty, "." or ".." segment.
func SafeKey(key string) bool {
	for seg := range strings.SplitSeq(strings.TrimSuffix(key, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// SafeFolderName reports whether a database, schema or table name can
// name a folder of the export (spec §10 skips table names with "/"): no
// "/" and not "." or "..". Sources skip the objects of other names with a
// warning (ReasonUnsupportedTableName, ReasonUnsupportedSchemaName,
// ReasonUnsupportedDatabaseName).
func SafeFolderName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}
