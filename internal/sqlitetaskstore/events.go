package sqlitetaskstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

var _ export.EventStore = (*Store)(nil)

// insertEvent records e in the transaction tx; a nil e records nothing.
// It also removes the account's events past export.EventRetention, which
// no DescribeEvents returns (export.EventsPrunedPerInsert at most).
func insertEvent(ctx context.Context, tx *sql.Tx, e *export.Event) error {
	if e == nil {
		return nil
	}
	var seq int64
	err := tx.QueryRowContext(ctx, `INSERT INTO events (account_id, region, event_id, source_type, source_identifier,
			source_arn, message, categories, date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.AccountID, e.Region, e.ID, e.SourceType, e.SourceIdentifier, e.SourceArn, e.Message,
		","+strings.Join(e.Categories, ",")+",", e.Date.UnixMicro()).Scan(&seq)
	if err != nil {
		return fmt.Errorf("record event %s of %s: %w", e.ID, e.SourceIdentifier, err)
	}
	e.Seq = seq
	if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (
			SELECT seq FROM events INDEXED BY events_account_date WHERE account_id = ? AND date < ? LIMIT ?)`,
		e.AccountID, e.Date.Add(-export.EventRetention).UnixMicro(), export.EventsPrunedPerInsert); err != nil {
		return fmt.Errorf("remove events past retention: %w", err)
	}
	return nil
}

// ListEvents implements export.EventStore. f.AccountID "" means every
// account; f.Limit 0 means no limit. Errors come from SQLite.
func (s *Store) ListEvents(ctx context.Context, f export.EventFilter) ([]*export.Event, error) {
	var where []string
	var args []any
	add := func(cond string, v ...any) {
		where = append(where, cond)
		args = append(args, v...)
	}
	if f.AccountID != "" {
		add("account_id = ?", f.AccountID)
	}
	if f.SourceType != "" {
		add("source_type = ?", f.SourceType)
	}
	if f.SourceIdentifier != "" {
		add("source_identifier = ?", f.SourceIdentifier)
	}
	if !f.Start.IsZero() {
		add("date >= ?", f.Start.UnixMicro())
	}
	if !f.End.IsZero() {
		add("date <= ?", f.End.UnixMicro())
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	if len(f.Categories) > 0 {
		var or []string
		for _, c := range f.Categories {
			or = append(or, "instr(categories, ?) > 0")
			args = append(args, ","+c+",")
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	q := `SELECT seq, account_id, region, event_id, source_type, source_identifier, source_arn, message, categories, date FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []*export.Event
	for rows.Next() {
		e := &export.Event{}
		var cats string
		var date int64
		if err := rows.Scan(&e.Seq, &e.AccountID, &e.Region, &e.ID, &e.SourceType, &e.SourceIdentifier,
			&e.SourceArn, &e.Message, &cats, &date); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		if c := strings.Trim(cats, ","); c != "" {
			e.Categories = strings.Split(c, ",")
		}
		e.Date = time.UnixMicro(date).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
