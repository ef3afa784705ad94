package sqlitetaskstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rdsexport/rdsexport/internal/export"
)

var _ export.SnapshotStore = (*Store)(nil)

// snapshotColumns is the column list every snapshot query returns, in
// scanSnapshot order.
const snapshotColumns = `seq, account_id, kind, identifier, region, source_identifier,
	engine, engine_version, status, percent_progress, snapshot_type,
	create_time, source_create_time, allocated_storage, port, master_username,
	tags, source_resource_id, location, size_bytes, failure_reason`

// CreateSnapshot inserts s with the status it carries and sets s.Seq. It
// returns an *export.Error with code DBSnapshotAlreadyExists or
// DBClusterSnapshotAlreadyExistsFault (by s.Kind), leaving s unchanged, when
// the account already has a snapshot of that kind with s.Identifier in any
// status. A kind or status the schema does not know, and other SQLite
// failures, are plain errors.
func (s *Store) CreateSnapshot(ctx context.Context, snap *export.Snapshot) error {
	// One statement: the unique index decides, so two concurrent creations
	// of one identifier cannot both succeed, in this process or another.
	var seq int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
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
func (s *Store) CreateSnapshotWithin(ctx context.Context, snap *export.Snapshot, limit int) error {
	if limit < 0 {
		return fmt.Errorf("create snapshot %s: negative quota %d", snap.Identifier, limit)
	}
	// The write connection begins IMMEDIATE transactions: the write lock is
	// taken before the count, so no other connection or process inserts
	// between the count and the insert.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create snapshot %s: %w", snap.Identifier, err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM snapshots INDEXED BY snapshots_account_kind_seq
		WHERE account_id = ? AND kind = ? AND snapshot_type = ?`,
		snap.AccountID, string(snap.Kind), snap.Type).Scan(&n); err != nil {
		return fmt.Errorf("create snapshot %s: count: %w", snap.Identifier, err)
	}
	if n >= limit {
		return export.SnapshotQuotaExceeded(snap.Kind, limit)
	}
	seq, err := insertSnapshot(ctx, tx, snap)
	if err != nil {
		return err
	}
	if err := insertEvent(ctx, tx, export.SnapshotEvent(snap, snap.Status, s.now())); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create snapshot %s: %w", snap.Identifier, err)
	}
	snap.Seq = seq
	return nil
}

// insertSnapshot inserts snap and returns its seq, or the kind's
// already-exists error when the identifier is taken.
func insertSnapshot(ctx context.Context, db queryRower, snap *export.Snapshot) (int64, error) {
	tags, err := encodeTags(snap.Tags)
	if err != nil {
		return 0, fmt.Errorf("create snapshot %s: %w", snap.Identifier, err)
	}
	var seq int64
	err = db.QueryRowContext(ctx, `INSERT INTO snapshots (
			account_id, kind, identifier, region, source_identifier,
			engine, engine_version, status, percent_progress, snapshot_type,
			create_time, source_create_time, allocated_storage, port, master_username,
			tags, source_resource_id, location, size_bytes, failure_reason
		) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, kind, identifier) DO NOTHING
		RETURNING seq`,
		snap.AccountID, string(snap.Kind), snap.Identifier, snap.Region, snap.SourceIdentifier,
		snap.Engine, snap.EngineVersion, snap.Status, snap.PercentProgress, snap.Type,
		encodeTime(snap.CreateTime), encodeTime(snap.SourceCreateTime), snap.AllocatedStorage, snap.Port, snap.MasterUsername,
		tags, snap.SourceResourceID, snap.Location, snap.SizeBytes, snap.FailureReason,
	).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, export.SnapshotAlreadyExists(snap.Kind, snap.Identifier)
	}
	if err != nil {
		return 0, fmt.Errorf("create snapshot %s: %w", snap.Identifier, err)
	}
	return seq, nil
}

// GetSnapshot returns the snapshot of the account and kind with that
// identifier (compared exactly; callers pass it lowercase). It returns an
// *export.Error with code DBSnapshotNotFound or
// DBClusterSnapshotNotFoundFault (by kind) when there is none. Other errors
// come from SQLite.
func (s *Store) GetSnapshot(ctx context.Context, accountID string, kind export.SnapshotKind, identifier string) (*export.Snapshot, error) {
	return getSnapshot(ctx, s.read, accountID, kind, identifier)
}

func getSnapshot(ctx context.Context, db queryRower, accountID string, kind export.SnapshotKind, identifier string) (*export.Snapshot, error) {
	snap, err := scanSnapshot(db.QueryRowContext(ctx,
		`SELECT `+snapshotColumns+` FROM snapshots WHERE account_id = ? AND kind = ? AND identifier = ?`,
		accountID, string(kind), identifier))
	if errors.Is(err, sql.ErrNoRows) {
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
// Errors come from SQLite.
func (s *Store) ListSnapshots(ctx context.Context, f export.SnapshotFilter) ([]*export.Snapshot, error) {
	query, args := snapshotListQuery(f)
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	defer rows.Close()
	var out []*export.Snapshot
	for rows.Next() {
		snap, err := scanSnapshot(rows)
		if err != nil {
			return nil, fmt.Errorf("list snapshots: %w", err)
		}
		out = append(out, snap)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return out, nil
}

// snapshotListQuery builds the SELECT for ListSnapshots.
func snapshotListQuery(f export.SnapshotFilter) (string, []any) {
	var b strings.Builder
	b.WriteString(`SELECT ` + snapshotColumns + ` FROM snapshots`)
	// Without statistics the planner guesses. Given a status filter it
	// prefers snapshots_status, which reads that status in every account
	// (available snapshots pile up); given an account, walking the account
	// and kind in seq order is bounded by the account's own snapshots.
	// Identifiers match at most one row each and a source few, so those read
	// their matches through their own index and sort them. Creating
	// snapshots are few, so start-up recovery reads them across accounts
	// through snapshots_status.
	onlyCreating := len(f.Statuses) > 0 && !slices.ContainsFunc(f.Statuses, func(st export.SnapshotStatus) bool { return st != export.SnapshotCreating })
	switch {
	case f.AccountID == "" && onlyCreating:
		b.WriteString(` INDEXED BY snapshots_status`)
	case f.AccountID == "":
	case f.Kind != "" && len(f.Identifiers) > 0:
		b.WriteString(` INDEXED BY snapshots_account_kind_identifier`)
	case f.Kind != "" && len(f.SourceIdentifiers) > 0:
		b.WriteString(` INDEXED BY snapshots_account_kind_source`)
	default:
		b.WriteString(` INDEXED BY snapshots_account_kind_seq`)
	}
	b.WriteString(` WHERE seq > ?`)
	args := []any{f.AfterSeq}
	if f.AccountID != "" {
		b.WriteString(` AND account_id = ?`)
		args = append(args, f.AccountID)
	}
	if f.Kind != "" {
		b.WriteString(` AND kind = ?`)
		args = append(args, string(f.Kind))
	}
	in := func(col string, values []string) {
		if len(values) == 0 {
			return
		}
		b.WriteString(" AND " + col + " IN (" + placeholders(len(values)) + ")")
		for _, v := range values {
			args = append(args, v)
		}
	}
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	in("identifier", f.Identifiers)
	// The column's NOCASE collation makes this IN case-insensitive.
	in("source_identifier", f.SourceIdentifiers)
	in("snapshot_type", f.Types)
	in("engine", f.Engines)
	in("status", statuses)
	b.WriteString(" ORDER BY seq")
	if f.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	return b.String(), args
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
// SQLite.
func (s *Store) UpdateSnapshot(ctx context.Context, accountID string, kind export.SnapshotKind, identifier string, from []export.SnapshotStatus, to export.SnapshotStatus, u export.SnapshotUpdate) (*export.Snapshot, error) {
	if len(from) == 0 {
		return nil, fmt.Errorf("update snapshot %s: no from status", identifier)
	}
	for _, f := range from {
		if !export.CanTransitionSnapshot(f, to) {
			return nil, fmt.Errorf("update snapshot %s: illegal move %s -> %s", identifier, f, to)
		}
	}
	set, setArgs := snapshotUpdateSet(u)
	query := `UPDATE snapshots SET status = ?` + set +
		` WHERE account_id = ? AND kind = ? AND identifier = ? AND status IN (` + placeholders(len(from)) + `)
		RETURNING ` + snapshotColumns
	args := append([]any{string(to)}, setArgs...)
	args = append(args, accountID, string(kind), identifier)
	for _, f := range from {
		args = append(args, string(f))
	}
	// Progress (to among from) is no event; entering available or failed is.
	event := func(snap *export.Snapshot) *export.Event {
		if slices.Contains(from, to) {
			return nil
		}
		return export.SnapshotEvent(snap, to, s.now())
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
// plain error when from is empty. Other errors come from SQLite.
func (s *Store) DeleteSnapshot(ctx context.Context, accountID string, kind export.SnapshotKind, identifier string, from []export.SnapshotStatus) (*export.Snapshot, error) {
	if len(from) == 0 {
		return nil, fmt.Errorf("delete snapshot %s: no from status", identifier)
	}
	query := `DELETE FROM snapshots WHERE account_id = ? AND kind = ? AND identifier = ?
		AND status IN (` + placeholders(len(from)) + `) RETURNING ` + snapshotColumns
	args := []any{accountID, string(kind), identifier}
	for _, f := range from {
		args = append(args, string(f))
	}
	event := func(snap *export.Snapshot) *export.Event {
		return export.SnapshotEvent(snap, export.SnapshotDeleted, s.now())
	}
	return s.casSnapshot(ctx, "delete", query, args, accountID, kind, identifier, from, event)
}

// casSnapshot runs a conditional UPDATE or DELETE ... RETURNING on the
// write connection. When it touches no row it reads the snapshot back to
// tell not-found from a status conflict.
//
// The event of the change (event returns nil for none) is recorded in the
// same transaction.
func (s *Store) casSnapshot(ctx context.Context, op, query string, args []any, accountID string, kind export.SnapshotKind, identifier string, from []export.SnapshotStatus,
	event func(*export.Snapshot) *export.Event) (*export.Snapshot, error) {
	for range maxTransitionAttempts {
		var snap *export.Snapshot
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			if snap, err = scanSnapshot(tx.QueryRowContext(ctx, query, args...)); err != nil {
				return err
			}
			return insertEvent(ctx, tx, event(snap))
		})
		if err == nil {
			return snap, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%s snapshot %s: %w", op, identifier, err)
		}
		cur, err := getSnapshot(ctx, s.write, accountID, kind, identifier)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(from, cur.Status) {
			return cur, fmt.Errorf("%s snapshot %s from %v: status is %s: %w",
				op, identifier, from, cur.Status, export.ErrStatusConflict)
		}
		// Another process moved the snapshot into from between the two
		// statements; try again.
	}
	return nil, fmt.Errorf("%s snapshot %s: status keeps changing", op, identifier)
}

// snapshotUpdateSet returns ", col = ?" for each non-nil field of u, and
// the values.
func snapshotUpdateSet(u export.SnapshotUpdate) (string, []any) {
	var b strings.Builder
	var args []any
	add := func(col string, v any) {
		b.WriteString(", " + col + " = ?")
		args = append(args, v)
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
	return b.String(), args
}

func scanSnapshot(r rowScanner) (*export.Snapshot, error) {
	var (
		snap                         export.Snapshot
		kind                         string
		createTime, sourceCreateTime sql.NullInt64
		tags                         sql.NullString
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
	if tags.Valid {
		snap.Tags = []export.Tag{}
		if err := json.Unmarshal([]byte(tags.String), &snap.Tags); err != nil {
			return nil, fmt.Errorf("decode tags of snapshot %s: %w", snap.Identifier, err)
		}
	}
	return &snap, nil
}

// encodeTags keeps nil (no tags given) apart from an empty list.
func encodeTags(tags []export.Tag) (any, error) {
	if tags == nil {
		return nil, nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encode tags: %w", err)
	}
	return string(b), nil
}
