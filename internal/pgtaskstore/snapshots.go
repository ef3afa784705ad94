package pgtaskstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/export"
)

// snapshotColumns is the column list every snapshot query returns, in
// scanSnapshot order.
const snapshotColumns = `seq, account_id, kind, identifier, region, source_identifier,
	engine, engine_version, status, percent_progress, snapshot_type,
	create_time, source_create_time, allocated_storage, port, master_username,
	tags, source_resource_id, location, size_bytes, failure_reason`

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreateSnapshot inserts snap with the status it carries and sets snap.Seq.
// It returns an *export.Error with code DBSnapshotAlreadyExists or
// DBClusterSnapshotAlreadyExistsFault (by snap.Kind), leaving snap
// unchanged, when the account already has a snapshot of that kind with
// snap.Identifier in any status. A kind or status the schema does not
// know, and other PostgreSQL failures, are plain errors.
//
// The insert and the snapshot's event (export.SnapshotEvent of its status)
// are one transaction under the account's lock (lockAccount).
func (s *Store) CreateSnapshot(ctx context.Context, snap *export.Snapshot) error {
	// The unique index decides, so two concurrent creations of one
	// identifier cannot both succeed, on this node or another.
	var seq int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, snap.AccountID); err != nil {
			return err
		}
		var err error
		if seq, err = insertSnapshot(ctx, tx, snap); err != nil {
			return err
		}
		return insertEvent(ctx, tx, export.SnapshotEvent(snap, snap.Status, s.now()))
	})
	if err != nil {
		var ee *export.Error
		if errors.As(err, &ee) {
			return err
		}
		return fmt.Errorf("create snapshot %s: %w", snap.Identifier, err)
	}
	snap.Seq = seq
	return nil
}

// CreateSnapshotWithin is CreateSnapshot under a quota: when the account
// already keeps limit or more snapshots of snap's kind and type, in any
// status, it inserts nothing and returns the *export.Error of
// export.SnapshotQuotaExceeded, before looking at the identifier. Other
// errors are CreateSnapshot's; a negative limit is a plain error.
//
// The count and the insert run in one transaction that first takes a
// transaction-scoped advisory lock on the account, kind and type: at READ
// COMMITTED two transactions would not see each other's inserts, and both
// would pass the count.
func (s *Store) CreateSnapshotWithin(ctx context.Context, snap *export.Snapshot, limit int) error {
	if limit < 0 {
		return fmt.Errorf("create snapshot %s: negative quota %d", snap.Identifier, limit)
	}
	var seq int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The account's lock covers the quota too; the quota's own lock
		// stays for nodes of earlier versions, which take only that one.
		if err := lockAccount(ctx, tx, snap.AccountID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`,
			lockClassQuota, snap.AccountID+"/"+string(snap.Kind)+"/"+snap.Type); err != nil {
			return fmt.Errorf("lock quota: %w", err)
		}
		// A statement at READ COMMITTED sees what committed before it
		// began, so after the lock every earlier creation is counted.
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM rdsexport_snapshots
			WHERE account_id = $1 AND kind = $2 AND snapshot_type = $3`,
			snap.AccountID, string(snap.Kind), snap.Type).Scan(&n); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if n >= limit {
			return export.SnapshotQuotaExceeded(snap.Kind, limit)
		}
		var err error
		if seq, err = insertSnapshot(ctx, tx, snap); err != nil {
			return err
		}
		return insertEvent(ctx, tx, export.SnapshotEvent(snap, snap.Status, s.now()))
	})
	if err != nil {
		var ee *export.Error
		if errors.As(err, &ee) {
			return err
		}
		return fmt.Errorf("create snapshot %s: %w", snap.Identifier, err)
	}
	snap.Seq = seq
	return nil
}

// insertSnapshot inserts snap and returns its seq, or the kind's
// already-exists error when the identifier is taken. The caller holds the
// account's lock and wraps other errors.
func insertSnapshot(ctx context.Context, q querier, snap *export.Snapshot) (int64, error) {
	tags, err := encodeTags(snap.Tags)
	if err != nil {
		return 0, err
	}
	var seq int64
	err = q.QueryRow(ctx, `INSERT INTO rdsexport_snapshots (
			account_id, kind, identifier, region, source_identifier,
			engine, engine_version, status, percent_progress, snapshot_type,
			create_time, source_create_time, allocated_storage, port, master_username,
			tags, source_resource_id, location, size_bytes, failure_reason
		) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (account_id, kind, identifier) DO NOTHING
		RETURNING seq`,
		snap.AccountID, string(snap.Kind), snap.Identifier, snap.Region, snap.SourceIdentifier,
		snap.Engine, snap.EngineVersion, snap.Status, snap.PercentProgress, snap.Type,
		encodeTime(snap.CreateTime), encodeTime(snap.SourceCreateTime), snap.AllocatedStorage, snap.Port, snap.MasterUsername,
		tags, snap.SourceResourceID, snap.Location, snap.SizeBytes, snap.FailureReason,
	).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, export.SnapshotAlreadyExists(snap.Kind, snap.Identifier)
	}
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// GetSnapshot returns the snapshot of the account and kind with that
// identifier (compared exactly; callers pass it lowercase). It returns an
// *export.Error with code DBSnapshotNotFound or
// DBClusterSnapshotNotFoundFault (by kind) when there is none. Other errors
// come from PostgreSQL.
func (s *Store) GetSnapshot(ctx context.Context, accountID string, kind export.SnapshotKind, identifier string) (*export.Snapshot, error) {
	snap, err := scanSnapshot(s.pool.QueryRow(ctx,
		`SELECT `+snapshotColumns+` FROM rdsexport_snapshots WHERE account_id = $1 AND kind = $2 AND identifier = $3`,
		accountID, string(kind), identifier))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, export.SnapshotNotFound(kind, identifier)
	}
	if err != nil {
		return nil, fmt.Errorf("get snapshot %s: %w", identifier, err)
	}
	return snap, nil
}

// ListSnapshots returns the snapshots matching f ordered by Seq, after
// f.AfterSeq, at most f.Limit of them (no limit when f.Limit <= 0). An empty
// f.AccountID matches every account and an empty f.Kind both kinds;
// SourceIdentifiers compare case-insensitively (ASCII), the other lists
// exactly. It returns an empty result, not an error, when nothing matches.
// Errors come from PostgreSQL.
func (s *Store) ListSnapshots(ctx context.Context, f export.SnapshotFilter) ([]*export.Snapshot, error) {
	query, args := snapshotListQuery(f)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*export.Snapshot, error) { return scanSnapshot(r) })
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return out, nil
}

// snapshotListQuery builds the SELECT for ListSnapshots.
func snapshotListQuery(f export.SnapshotFilter) (string, []any) {
	var b strings.Builder
	args := []any{f.AfterSeq}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`SELECT ` + snapshotColumns + ` FROM rdsexport_snapshots WHERE seq > $1`)
	if f.AccountID != "" {
		b.WriteString(` AND account_id = ` + arg(f.AccountID))
	}
	if f.Kind != "" {
		b.WriteString(` AND kind = ` + arg(string(f.Kind)))
	}
	in := func(col string, values []string) {
		if len(values) > 0 {
			b.WriteString(" AND " + col + " = ANY(" + arg(values) + ")")
		}
	}
	in("identifier", f.Identifiers)
	sources := make([]string, len(f.SourceIdentifiers))
	for i, v := range f.SourceIdentifiers {
		sources[i] = asciiLower(v)
	}
	in("lower(source_identifier)", sources)
	in("snapshot_type", f.Types)
	in("engine", f.Engines)
	if len(f.Statuses) > 0 && !slices.ContainsFunc(f.Statuses, func(st export.SnapshotStatus) bool { return st != export.SnapshotCreating }) {
		// Lets the planner use the partial index of creating snapshots.
		b.WriteString(" AND status = 'creating'")
	}
	in("status", statusStrings(f.Statuses))
	b.WriteString(" ORDER BY seq")
	if f.Limit > 0 {
		b.WriteString(" LIMIT " + arg(f.Limit))
	}
	return b.String(), args
}

// asciiLower folds ASCII letters only, as lower() does in collation "C".
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// UpdateSnapshot sets the snapshot's status to `to` and applies the non-nil
// fields of u in the same UPDATE, only if its current status is one of from,
// and returns the updated snapshot. `to` may be one of from, to record
// progress.
//
// When the status is not in from it changes nothing and returns the current
// snapshot with an error wrapping export.ErrStatusConflict. It returns an
// *export.Error with code DBSnapshotNotFound or
// DBClusterSnapshotNotFoundFault (by kind) for an unknown snapshot, and a
// plain error, touching nothing, when from is empty or some from -> to is
// not a legal move (export.CanTransitionSnapshot). Other errors come from
// PostgreSQL.
func (s *Store) UpdateSnapshot(ctx context.Context, accountID string, kind export.SnapshotKind, identifier string, from []export.SnapshotStatus, to export.SnapshotStatus, u export.SnapshotUpdate) (*export.Snapshot, error) {
	if len(from) == 0 {
		return nil, fmt.Errorf("update snapshot %s: no from status", identifier)
	}
	for _, f := range from {
		if !export.CanTransitionSnapshot(f, to) {
			return nil, fmt.Errorf("update snapshot %s: illegal move %s -> %s", identifier, f, to)
		}
	}
	args := []any{string(to), accountID, string(kind), identifier, statusStrings(from)}
	set := snapshotUpdateSet(u, &args)
	query := `UPDATE rdsexport_snapshots SET status = $1` + set +
		` WHERE account_id = $2 AND kind = $3 AND identifier = $4 AND status = ANY($5) RETURNING ` + snapshotColumns
	// Progress (to among from) is no event; entering available or failed is.
	var event func(*export.Snapshot) *export.Event
	if !slices.Contains(from, to) {
		event = func(snap *export.Snapshot) *export.Event { return export.SnapshotEvent(snap, to, s.now()) }
	}
	return s.casSnapshot(ctx, "update", query, args, accountID, kind, identifier, from, event)
}

// DeleteSnapshot removes the snapshot only if its status is one of from and
// returns it as it was just before (its last status, not deleted).
//
// When the status is not in from it removes nothing and returns the
// current snapshot with an error wrapping export.ErrStatusConflict. It
// returns an *export.Error with code DBSnapshotNotFound or
// DBClusterSnapshotNotFoundFault (by kind) for an unknown snapshot, and a
// plain error when from is empty. Other errors come from PostgreSQL.
func (s *Store) DeleteSnapshot(ctx context.Context, accountID string, kind export.SnapshotKind, identifier string, from []export.SnapshotStatus) (*export.Snapshot, error) {
	if len(from) == 0 {
		return nil, fmt.Errorf("delete snapshot %s: no from status", identifier)
	}
	query := `DELETE FROM rdsexport_snapshots WHERE account_id = $1 AND kind = $2 AND identifier = $3
		AND status = ANY($4) RETURNING ` + snapshotColumns
	event := func(snap *export.Snapshot) *export.Event {
		return export.SnapshotEvent(snap, export.SnapshotDeleted, s.now())
	}
	return s.casSnapshot(ctx, "delete", query, []any{accountID, string(kind), identifier, statusStrings(from)}, accountID, kind, identifier, from, event)
}

// casSnapshot runs a conditional UPDATE or DELETE ... RETURNING. When it
// touches no row it reads the snapshot back to tell not-found from a status
// conflict.
//
// With a non-nil event, the event of the change is recorded in the same
// transaction, which takes the account's lock first (lockAccount);
// without, the statement runs alone.
func (s *Store) casSnapshot(ctx context.Context, op, query string, args []any, accountID string, kind export.SnapshotKind, identifier string, from []export.SnapshotStatus,
	event func(*export.Snapshot) *export.Event) (*export.Snapshot, error) {
	for range maxAttempts {
		var snap *export.Snapshot
		var err error
		if event == nil {
			snap, err = scanSnapshot(s.pool.QueryRow(ctx, query, args...))
		} else {
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if err := lockAccount(ctx, tx, accountID); err != nil {
					return err
				}
				var err error
				if snap, err = scanSnapshot(tx.QueryRow(ctx, query, args...)); err != nil {
					return err
				}
				return insertEvent(ctx, tx, event(snap))
			})
		}
		if err == nil {
			return snap, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("%s snapshot %s: %w", op, identifier, err)
		}
		cur, err := s.GetSnapshot(ctx, accountID, kind, identifier)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(from, cur.Status) {
			return cur, fmt.Errorf("%s snapshot %s from %v: status is %s: %w",
				op, identifier, from, cur.Status, export.ErrStatusConflict)
		}
		// Another node moved the snapshot into from between the two
		// statements; try again.
	}
	return nil, fmt.Errorf("%s snapshot %s: status keeps changing", op, identifier)
}

// snapshotUpdateSet returns ", col = $n" for each non-nil field of u,
// appending the values to args.
func snapshotUpdateSet(u export.SnapshotUpdate, args *[]any) string {
	var b strings.Builder
	add := func(col string, v any) {
		*args = append(*args, v)
		b.WriteString(", " + col + " = $" + strconv.Itoa(len(*args)))
	}
	if u.PercentProgress != nil {
		add("percent_progress", *u.PercentProgress)
	}
	if u.CreateTime != nil {
		add("create_time", encodeTime(*u.CreateTime))
	}
	if u.Location != nil {
		add("location", *u.Location)
	}
	if u.SizeBytes != nil {
		add("size_bytes", *u.SizeBytes)
	}
	if u.FailureReason != nil {
		add("failure_reason", *u.FailureReason)
	}
	if u.EngineVersion != nil {
		add("engine_version", *u.EngineVersion)
	}
	return b.String()
}

func scanSnapshot(r pgx.Row) (*export.Snapshot, error) {
	var (
		snap                         export.Snapshot
		kind                         string
		createTime, sourceCreateTime *time.Time
		tags                         []byte
	)
	err := r.Scan(&snap.Seq, &snap.AccountID, &kind, &snap.Identifier, &snap.Region, &snap.SourceIdentifier,
		&snap.Engine, &snap.EngineVersion, &snap.Status, &snap.PercentProgress, &snap.Type,
		&createTime, &sourceCreateTime, &snap.AllocatedStorage, &snap.Port, &snap.MasterUsername,
		&tags, &snap.SourceResourceID, &snap.Location, &snap.SizeBytes, &snap.FailureReason)
	if err != nil {
		return nil, err
	}
	snap.Kind = export.SnapshotKind(kind)
	snap.CreateTime = decodeTime(createTime)
	snap.SourceCreateTime = decodeTime(sourceCreateTime)
	if tags != nil {
		snap.Tags = []export.Tag{}
		if err := json.Unmarshal(tags, &snap.Tags); err != nil {
			return nil, fmt.Errorf("decode tags of snapshot %s: %w", snap.Identifier, err)
		}
	}
	return &snap, nil
}

// encodeTags keeps nil (no tags given: NULL) apart from an empty list.
func encodeTags(tags []export.Tag) ([]byte, error) {
	if tags == nil {
		return nil, nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encode tags: %w", err)
	}
	return b, nil
}
