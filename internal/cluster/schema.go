package cluster

import (
	"context"
	"fmt"
	"time"

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
CREATE TABLE IF NOT EXISTS rdsexport_ranges (
	account_id  text NOT NULL,
	identifier  text NOT NULL,
	run_attempt integer NOT NULL,
	target      text NOT NULL,
	batch       integer NOT NULL,
	rng         integer NOT NULL,
	ranges      integer NOT NULL,
	share       bytea NOT NULL,
	attempt     integer NOT NULL DEFAULT 1,
	state       text NOT NULL,
	instance    text,
	job_id      bigint,
	bytes       bigint NOT NULL DEFAULT 0,
	rows        bigint NOT NULL DEFAULT 0,
	result      jsonb,
	PRIMARY KEY (account_id, identifier, run_attempt, target, batch, rng)
);
CREATE TABLE IF NOT EXISTS rdsexport_copies (
	account_id text NOT NULL,
	kind       text NOT NULL,
	identifier text NOT NULL,
	instance   text NOT NULL,
	PRIMARY KEY (account_id, kind, identifier)
);
CREATE INDEX IF NOT EXISTS rdsexport_ranges_running ON rdsexport_ranges (instance) WHERE state = 'running';
`

// Migrate brings River's tables and this package's up to date, under a
// session advisory lock, so nodes starting at the same moment migrate once.
// River's migrations run one transaction each (one adds an enum value that
// the next uses), so the lock is held on a connection of its own.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate cluster tables: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, 0)`, lockMigrate); err != nil {
		return fmt.Errorf("migrate cluster tables: %w", err)
	}
	defer func() {
		// Unlock even when ctx has ended; a failed unlock drops the session.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1, 0)`, lockMigrate); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	if _, err := conn.Exec(ctx, schema); err != nil {
		return fmt.Errorf("migrate cluster tables: %w", err)
	}
	return nil
}
