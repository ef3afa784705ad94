-- DB snapshots and DB cluster snapshots of every account. seq orders them
-- by creation across both kinds and is never reused. Keys compare as bytes
-- (collation "C").
CREATE TABLE rdsexport_snapshots (
    seq                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id         text COLLATE "C" NOT NULL,
    kind               text COLLATE "C" NOT NULL CHECK (kind IN ('db', 'cluster')),
    -- Stored lowercase by the caller (spec §2.3); compared as given.
    identifier         text COLLATE "C" NOT NULL,
    region             text NOT NULL,
    -- Compared case-insensitively (spec §2.3, §4.2, §4.4) through
    -- lower(), which folds ASCII only in collation "C", as SQLite's NOCASE.
    source_identifier  text COLLATE "C" NOT NULL,
    engine             text COLLATE "C" NOT NULL,
    engine_version     text NOT NULL,
    status             text COLLATE "C" NOT NULL CHECK (status IN ('creating', 'available', 'failed', 'deleted')),
    percent_progress   integer NOT NULL DEFAULT 0,
    snapshot_type      text COLLATE "C" NOT NULL,
    -- NULL for the zero time.
    create_time        timestamptz,
    source_create_time timestamptz,
    allocated_storage  integer NOT NULL DEFAULT 0,
    port               integer NOT NULL DEFAULT 0,
    master_username    text NOT NULL DEFAULT '',
    -- JSON array of {"Key","Value"} objects; NULL when no tags were given.
    tags               jsonb,
    source_resource_id text NOT NULL DEFAULT '',
    location           text NOT NULL DEFAULT '',
    size_bytes         bigint NOT NULL DEFAULT 0,
    failure_reason     text NOT NULL DEFAULT ''
);

-- Identifiers are unique per account and kind (a DB snapshot and a DB
-- cluster snapshot may share one). Also serves lookups and identifier
-- filters.
CREATE UNIQUE INDEX rdsexport_snapshots_account_kind_identifier
    ON rdsexport_snapshots (account_id, kind, identifier);
-- Describe pages walk one account and kind in seq order; the quota counts
-- one account, kind and type.
CREATE INDEX rdsexport_snapshots_account_kind_seq ON rdsexport_snapshots (account_id, kind, seq);
-- DescribeDBSnapshots / DescribeDBClusterSnapshots by instance or cluster.
CREATE INDEX rdsexport_snapshots_account_kind_source
    ON rdsexport_snapshots (account_id, kind, lower(source_identifier), seq);
-- Start-up recovery scans creating snapshots of every account.
CREATE INDEX rdsexport_snapshots_creating ON rdsexport_snapshots (seq) WHERE status = 'creating';
