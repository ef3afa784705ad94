package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// ReadParams configures ReadTable.
type ReadParams struct {
	// Slots bounds the reads in progress. Every ReadTable call of one
	// export or snapshot copy shares it, so that no more reads run at once
	// than the snapshot has connections, whatever the number of tables
	// and ranges. Nil means no bound.
	Slots *semaphore.Weighted
	// Series begins the file series of one read: range rng of batch, rng
	// 0 for a batch read in one piece.
	Series func(batch, rng int) *parquetfile.Series
	// Progress, if set, is called with the source bytes read, from several
	// goroutines at once.
	Progress func(bytes int64)
	// Emitted, if set, is called for each record batch the source
	// delivers, from several goroutines at once: its rows, and how long
	// the source took to deliver it (since the read began or the previous
	// batch was written).
	Emitted func(rows int64, wait time.Duration)
	// Read, if set, reads one range (batch, rng) in place of the local
	// read: another process stores it (Series, Progress and Emitted are
	// then the caller's to honour). It takes no slot: the processes that
	// read bound their own reads.
	Read func(ctx context.Context, batch, rng int) (RangeRead, error)
	// BatchDone, if set, is called once every read of a batch is stored,
	// before the next batch is read; its error ends ReadTable.
	BatchDone func(ctx context.Context, batch int) error
}

// RangeRead is what one read of ReadTable stored.
type RangeRead struct {
	Rows int64
	// SourceBytes is what the source reported as read.
	SourceBytes int64
	Files       []parquetfile.File
}

// RangeCount is the number of reads ReadTable splits each batch of t into:
// t.Ranges when snap is a RangeReader and t.Ranges is above 1, else 1.
func RangeCount(snap Snapshot, t Table) int {
	if _, ok := snap.(RangeReader); ok && t.Ranges > 1 {
		return t.Ranges
	}
	return 1
}

// ReadRange reads range rng of batch of t through RangeReader.ReadRange
// when RangeCount is above 1, and the whole batch through ReadBatch (rng
// 0) otherwise. Its contract is ReadBatch's.
func ReadRange(ctx context.Context, snap Snapshot, t Table, batch, rng int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	if RangeCount(snap, t) > 1 {
		return snap.(RangeReader).ReadRange(ctx, t, batch, rng, emit, progress)
	}
	return snap.ReadBatch(ctx, t, batch, emit, progress)
}

// ReadTable reads every batch of t from snap in order, each batch as
// RangeCount reads run at once, and writes each read into its own
// p.Series. It returns, per batch, what each read stored.
//
// A read that fails by itself (not because ctx ended, a file could not be
// written, or the table went away) is returned as a read error, which
// FailureCause shows as a source problem. A table that went away
// (ErrTableGone) after some of it was read is such a read error too, since
// part of it may be stored; before that, the error wraps ErrTableGone.
// When ReadTable fails, the file being written by each read is dropped;
// files already stored stay, for the caller to remove.
func ReadTable(ctx context.Context, snap Snapshot, t Table, p ReadParams) ([][]RangeRead, error) {
	ranges := RangeCount(snap, t)
	batches := make([][]RangeRead, t.Batches)
	var read int64
	for b := range t.Batches {
		reads := make([]RangeRead, ranges)
		g, gctx := errgroup.WithContext(ctx)
		for rng := range ranges {
			g.Go(func() error {
				var err error
				reads[rng], err = readOne(gctx, snap, t, b, rng, p)
				if err != nil && ranges > 1 {
					return fmt.Errorf("range %d: %w", rng, err)
				}
				return err
			})
		}
		err := g.Wait()
		for _, r := range reads {
			read += r.SourceBytes
		}
		if errors.Is(err, ErrTableGone) && (b > 0 || read > 0) {
			// Part of the table may be stored already: skipping it would
			// leave those files beside a manifest that says SKIPPED.
			err = &readError{err: fmt.Errorf("%s went away after part of it was exported (%v)", t.Target, err)}
		}
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", b+1, err)
		}
		batches[b] = reads
		if p.BatchDone != nil {
			if err := p.BatchDone(ctx, b); err != nil {
				return nil, err
			}
		}
	}
	return batches, nil
}

// readOne stores one read in its own file series, once a slot is free.
// Its RangeRead counts the source bytes read also when it fails.
func readOne(ctx context.Context, snap Snapshot, t Table, batch, rng int, p ReadParams) (RangeRead, error) {
	if p.Read != nil {
		return p.Read(ctx, batch, rng)
	}
	if p.Slots != nil {
		if err := p.Slots.Acquire(ctx, 1); err != nil {
			return RangeRead{}, err
		}
		defer p.Slots.Release(1)
	}
	var (
		rr      RangeRead
		emitErr error // set when the read fails because emit did
	)
	s := p.Series(batch, rng)
	waitFrom := time.Now()
	emit := func(rec arrow.RecordBatch) error {
		if p.Emitted != nil {
			p.Emitted(rec.NumRows(), time.Since(waitFrom))
			defer func() { waitFrom = time.Now() }()
		}
		if err := s.Write(ctx, rec); err != nil {
			emitErr = err
			return err
		}
		return nil
	}
	progress := func(b int64) {
		rr.SourceBytes += b
		s.AddSourceBytes(b)
		if p.Progress != nil {
			p.Progress(b)
		}
	}
	err := ReadRange(ctx, snap, t, batch, rng, emit, progress)
	if err != nil {
		s.Abort()
		if emitErr == nil && ctx.Err() == nil && !errors.Is(err, ErrTableGone) {
			err = &readError{err: err}
		}
		return rr, err
	}
	if rr.Files, err = s.Close(); err != nil {
		return rr, err
	}
	for _, f := range rr.Files {
		rr.Rows += f.Rows
	}
	return rr, nil
}
