-- DB snapshots and DB cluster snapshots of every account. seq orders them by
-- creation across both kinds; AUTOINCREMENT keeps it increasing for the life
-- of the file, so a page marker built from it never points at a reused value.
CREATE TABLE snapshots (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         TEXT    NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('db', 'cluster')),
    -- Stored lowercase by the caller (spec §2.3); compared as given.
    identifier         TEXT    NOT NULL,
    region             TEXT    NOT NULL,
    -- Instance and cluster lookups are case-insensitive (spec §2.3, §4.2,
    -- §4.4); identifiers are ASCII, which NOCASE folds.
    source_identifier  TEXT    NOT NULL COLLATE NOCASE,
    engine             TEXT    NOT NULL,
    engine_version     TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('creating', 'available', 'failed', 'deleted')),
    percent_progress   INTEGER NOT NULL DEFAULT 0,
    snapshot_type      TEXT    NOT NULL,
    -- Times are Unix microseconds, UTC; NULL for the zero time.
    create_time        INTEGER,
    source_create_time INTEGER,
    allocated_storage  INTEGER NOT NULL DEFAULT 0,
    port               INTEGER NOT NULL DEFAULT 0,
    master_username    TEXT    NOT NULL DEFAULT '',
    -- JSON array of {"Key","Value"} objects; NULL when no tags were given.
    tags               TEXT,
    source_resource_id TEXT    NOT NULL DEFAULT '',
    location           TEXT    NOT NULL DEFAULT '',
    size_bytes         INTEGER NOT NULL DEFAULT 0,
    failure_reason     TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Identifiers are unique per account and kind (a DB snapshot and a DB
-- cluster snapshot may share one). Also serves lookups and identifier filters.
CREATE UNIQUE INDEX snapshots_account_kind_identifier ON snapshots (account_id, kind, identifier);

-- Describe pages walk one account and kind in seq order.
CREATE INDEX snapshots_account_kind_seq ON snapshots (account_id, kind, seq);
-- DescribeDBSnapshots / DescribeDBClusterSnapshots by instance or cluster.
CREATE INDEX snapshots_account_kind_source ON snapshots (account_id, kind, source_identifier, seq);
-- Start-up recovery scans creating snapshots of every account.
CREATE INDEX snapshots_status ON snapshots (status, seq);
