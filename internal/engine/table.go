package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// exportTable writes every batch of t under
// <root>/<database>/<folder>/<batch>/ (spec §8.2) and a _SUCCESS marker in
// each batch folder once the batch is complete. Each read of a batch is a
// series part-<partition>-<uuid>-c000.gz.parquet, c001, ... of files of
// about FileBytes (the Spark naming RDS uses), partition being the range.
// Its rows, bytes and files are counted in c as they are stored.
func (r *taskRun) exportTable(ctx context.Context, snap Snapshot, t Table, c *tableCounters) (tableResult, error) {
	res := tableResult{table: t}
	start := time.Now()
	tableDir, err := r.tableDir(t)
	if err != nil {
		return res, err
	}
	p := ReadParams{
		Slots: r.reads,
		Series: func(batch, rng int) *parquetfile.Series {
			return r.series(tableDir, t, batch, rng, func() { c.files.Add(1) })
		},
		Progress: func(n int64) {
			r.extracted.Add(n)
			c.bytes.Add(n)
			r.e.p.Observer.BytesRead(r.task, n)
		},
		Emitted: func(rows int64, wait time.Duration) {
			c.rows.Add(rows)
			r.e.p.Observer.BatchRead(r.task, rows, wait)
		},
		BatchDone: func(ctx context.Context, batch int) error {
			key := fmt.Sprintf("%s/%d/_SUCCESS", tableDir, batch+1)
			if err := r.put(ctx, key, strings.NewReader("")); err != nil {
				return fmt.Errorf("write %s: %w", key, err)
			}
			res.partitions++
			return nil
		},
	}
	if sh, ok := snap.(Sharer); ok && r.e.p.Ranges != nil && (RangeCount(snap, t) > 1 || t.EstimatedBytes >= spreadBytes) {
		// The reads are the cluster's, wherever there is room.
		share, err := sh.Share(t)
		if err != nil {
			return res, fmt.Errorf("share %s: %w", t.Target, err)
		}
		p.Read = func(ctx context.Context, batch, rng int) (RangeRead, error) {
			j := RangeJob{Table: t.Target, Batch: batch, Range: rng, Ranges: RangeCount(snap, t), Share: share}
			rr, err := r.e.p.Ranges.ReadRange(ctx, r.task, j, func(bytes, rows int64) {
				p.Progress(bytes)
				if rows > 0 {
					p.Emitted(rows, 0)
				}
			})
			c.files.Add(int64(len(rr.Files)))
			return rr, err
		}
	}
	batches, err := ReadTable(ctx, snap, t, p)
	if err != nil {
		return res, err
	}
	var rows, files int64
	for _, reads := range batches {
		for _, rr := range reads {
			res.bytes += rr.SourceBytes
			rows += rr.Rows
			files += int64(len(rr.Files))
		}
	}
	r.logger.Info("table exported", "table", t.Target, "rows", rows, "bytes", res.bytes,
		"files", files, "seconds", time.Since(start).Seconds())
	return res, nil
}

// spreadBytes is the least estimated size of a table read in one piece
// that Params.Ranges reads rather than the export's own process: below it,
// queuing the read costs more than the read.
const spreadBytes = 16 << 20

// tableDir is the folder of t's batch folders, checked.
func (r *taskRun) tableDir(t Table) (string, error) {
	dir := r.root + "/" + keyPart(t.Database) + "/" + keyPart(t.Folder)
	return dir, r.checkKey(dir + "/")
}

// rangeStem begins the keys of every file of range rng of batch.
func rangeStem(tableDir string, batch, rng int) string {
	return fmt.Sprintf("%s/%d/part-%05d-", tableDir, batch+1, rng)
}

// series begins the file series of one read of t: range rng of batch,
// named part-<range>-<uuid>-c<n>.gz.parquet. stored, if set, is called
// for each file stored.
func (r *taskRun) series(tableDir string, t Table, batch, rng int, stored func()) *parquetfile.Series {
	stem := rangeStem(tableDir, batch, rng) + uuid.NewString()
	return parquetfile.NewSeries(parquetfile.SeriesParams{
		Schema: t.Schema, Writer: r.e.p.Parquet, FileBytes: r.e.p.FileBytes,
		Key: func(i int) string { return fmt.Sprintf("%s-c%03d.gz.parquet", stem, i) },
		Put: func(ctx context.Context, key string, body io.Reader) error {
			err := r.put(ctx, key, body)
			if err == nil && stored != nil {
				stored()
			}
			return err
		},
	})
}

// put writes one object of the export after checking its key.
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
