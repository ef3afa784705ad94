package cluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Advisory lock keys (first of two int4 keys) of this package.
const (
	lockMigrate = 0x72647831 // migrations: River's and ours
	lockClaim   = 0x72647832 // claims of one account's tasks
)

const schema = `
CREATE TABLE IF NOT EXISTS rdsexport_nodes (
	instance     text PRIMARY KEY,
	node_id      text NOT NULL,
	started_at   timestamptz NOT NULL DEFAULT now(),
	heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS rdsexport_runs (
	account_id text NOT NULL,
	identifier text NOT NULL,
	attempt    integer NOT NULL,
	instance   text,
	job_id     bigint,
	PRIMARY KEY (account_id, identifier)
);
CREATE INDEX IF NOT EXISTS rdsexport_runs_instance ON rdsexport_runs (instance);
`

// Migrate brings River's tables and this package's up to date. It runs in
// one transaction under an advisory lock, so nodes starting at the same
// moment migrate once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate cluster tables: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockMigrate); err != nil {
		return fmt.Errorf("migrate cluster tables: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return fmt.Errorf("migrate cluster tables: %w", err)
	}
	return tx.Commit(ctx)
}
