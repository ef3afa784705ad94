-- Export tasks of every account. seq is the acceptance order; AUTOINCREMENT
-- keeps it increasing for the life of the file, so a page marker built from
-- it never points at a reused value.
CREATE TABLE export_tasks (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       TEXT    NOT NULL,
    identifier       TEXT    NOT NULL,
    region           TEXT    NOT NULL,
    source_arn       TEXT    NOT NULL,
    source_type      TEXT    NOT NULL,
    -- JSON array of names; NULL when ExportOnly was not given.
    export_only      TEXT,
    s3_bucket        TEXT    NOT NULL,
    s3_prefix        TEXT    NOT NULL,
    iam_role_arn     TEXT    NOT NULL,
    kms_key_id       TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN
        ('STARTING', 'IN_PROGRESS', 'COMPLETE', 'CANCELING', 'CANCELED', 'FAILED')),
    -- Times are Unix microseconds, UTC; NULL for the zero time.
    snapshot_time    INTEGER,
    task_start_time  INTEGER,
    task_end_time    INTEGER,
    percent_progress INTEGER NOT NULL DEFAULT 0,
    extracted_bytes  INTEGER NOT NULL DEFAULT 0,
    failure_cause    TEXT    NOT NULL DEFAULT '',
    warning_message  TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Identifiers are unique per account whatever the status (spec §7.1) and
-- compare case-sensitively (BINARY collation). Also serves identifier filters.
CREATE UNIQUE INDEX export_tasks_account_identifier ON export_tasks (account_id, identifier);

-- ListTasks pages walk one account in seq order, optionally narrowed by
-- status, source or bucket.
CREATE INDEX export_tasks_account_seq ON export_tasks (account_id, seq);
CREATE INDEX export_tasks_account_status ON export_tasks (account_id, status, seq);
CREATE INDEX export_tasks_account_source ON export_tasks (account_id, source_arn, seq);
CREATE INDEX export_tasks_account_bucket ON export_tasks (account_id, s3_bucket, seq);
-- The engine scans active tasks of every account.
CREATE INDEX export_tasks_status ON export_tasks (status, seq);

-- At most one active export per source and account (spec §6.5). CreateTask
-- checks this first to report ExportTaskAlreadyExists; the index is the
-- backstop. No transition makes a terminal task active again.
CREATE UNIQUE INDEX export_tasks_active_source ON export_tasks (account_id, source_arn)
    WHERE status IN ('STARTING', 'IN_PROGRESS', 'CANCELING');
