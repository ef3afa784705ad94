package pgtaskstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/export"
)

// lockAccount takes the transaction-scoped advisory lock of the account,
// which every insert of its records holds from before its seq is drawn
// until commit (see the package doc). Callers take it before any row lock,
// so that no transaction holding it waits for one that waits for it.
// CreateTask takes the same lock within its INSERT statement.
func lockAccount(ctx context.Context, tx pgx.Tx, accountID string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClassAccount, accountID); err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	return nil
}

// insertEvent records e in the transaction tx, which holds the lock of
// e's account; a nil e records nothing.
// It also removes the account's events past export.EventRetention, which
// no DescribeEvents returns (export.EventsPrunedPerInsert at most).
func insertEvent(ctx context.Context, tx pgx.Tx, e *export.Event) error {
	if e == nil {
		return nil
	}
	var seq int64
	err := tx.QueryRow(ctx, `INSERT INTO rdsexport_events (account_id, region, event_id, source_type, source_identifier,
			source_arn, message, categories, date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq`,
		e.AccountID, e.Region, e.ID, e.SourceType, e.SourceIdentifier, e.SourceArn, e.Message,
		cloneStrings(e.Categories), e.Date).Scan(&seq)
	if err != nil {
		return fmt.Errorf("record event %s of %s: %w", e.ID, e.SourceIdentifier, err)
	}
	e.Seq = seq
	if _, err := tx.Exec(ctx, `DELETE FROM rdsexport_events WHERE seq IN (
			SELECT seq FROM rdsexport_events WHERE account_id = $1 AND date < $2 LIMIT $3)`,
		e.AccountID, e.Date.Add(-export.EventRetention), export.EventsPrunedPerInsert); err != nil {
		return fmt.Errorf("remove events past retention: %w", err)
	}
	return nil
}

// ListEvents implements export.EventStore: the events matching f ordered
// by Seq. f.AccountID "" means every account; f.Limit 0 means no limit;
// SourceIdentifier compares case-insensitively (ASCII). Errors come from
// PostgreSQL.
func (s *Store) ListEvents(ctx context.Context, f export.EventFilter) ([]*export.Event, error) {
	query, args := eventListQuery(f)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*export.Event, error) {
		e := &export.Event{}
		if err := r.Scan(&e.Seq, &e.AccountID, &e.Region, &e.ID, &e.SourceType, &e.SourceIdentifier,
			&e.SourceArn, &e.Message, &e.Categories, &e.Date); err != nil {
			return nil, err
		}
		if len(e.Categories) == 0 {
			e.Categories = nil
		}
		e.Date = e.Date.UTC()
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// eventListQuery builds the SELECT for ListEvents.
func eventListQuery(f export.EventFilter) (string, []any) {
	var b strings.Builder
	args := []any{f.AfterSeq}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`SELECT seq, account_id, region, event_id, source_type, source_identifier, source_arn, message, categories, date
		FROM rdsexport_events WHERE seq > $1`)
	if f.AccountID != "" {
		b.WriteString(` AND account_id = ` + arg(f.AccountID))
	}
	if f.SourceType != "" {
		b.WriteString(` AND source_type = ` + arg(f.SourceType))
	}
	if f.SourceIdentifier != "" {
		b.WriteString(` AND lower(source_identifier) = ` + arg(asciiLower(f.SourceIdentifier)))
	}
	if !f.Start.IsZero() {
		b.WriteString(` AND date >= ` + arg(f.Start))
	}
	if !f.End.IsZero() {
		b.WriteString(` AND date <= ` + arg(f.End))
	}
	if len(f.Categories) > 0 {
		b.WriteString(` AND categories && ` + arg(cloneStrings(f.Categories)))
	}
	b.WriteString(" ORDER BY seq")
	if f.Limit > 0 {
		b.WriteString(" LIMIT " + arg(f.Limit))
	}
	return b.String(), args
}
