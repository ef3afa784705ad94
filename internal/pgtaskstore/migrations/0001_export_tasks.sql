-- Export tasks of every account. seq is the acceptance order: an identity
-- never reuses a value, so a page marker built from it never points at
-- another task. Keys compare as bytes (collation "C"), whatever the
-- database's default.
CREATE TABLE rdsexport_export_tasks (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       text COLLATE "C" NOT NULL,
    identifier       text COLLATE "C" NOT NULL,
    region           text NOT NULL,
    source_arn       text COLLATE "C" NOT NULL,
    -- export.SourceKey(source_arn): ARNs of one source in another region,
    -- partition or case share it (spec §6.5).
    source_key       text COLLATE "C" NOT NULL,
    source_type      text NOT NULL,
    -- NULL when ExportOnly was not given, '{}' when it was empty.
    export_only      text[],
    s3_bucket        text COLLATE "C" NOT NULL,
    s3_prefix        text NOT NULL,
    iam_role_arn     text NOT NULL,
    kms_key_id       text NOT NULL,
    status           text COLLATE "C" NOT NULL CHECK (status IN
        ('STARTING', 'IN_PROGRESS', 'COMPLETE', 'CANCELING', 'CANCELED', 'FAILED')),
    -- NULL for the zero time.
    snapshot_time    timestamptz,
    task_start_time  timestamptz,
    task_end_time    timestamptz,
    percent_progress integer NOT NULL DEFAULT 0,
    extracted_bytes  bigint NOT NULL DEFAULT 0,
    failure_cause    text NOT NULL DEFAULT '',
    warning_message  text NOT NULL DEFAULT ''
);

-- Identifiers are unique per account whatever the status (spec §7.1) and
-- compare case-sensitively. Also serves identifier filters.
CREATE UNIQUE INDEX rdsexport_export_tasks_account_identifier
    ON rdsexport_export_tasks (account_id, identifier);

-- At most one active export per source and account (spec §6.5). CreateTask
-- relies on it: two nodes inserting at once cannot both succeed. No
-- transition makes a terminal task active again.
CREATE UNIQUE INDEX rdsexport_export_tasks_active_source
    ON rdsexport_export_tasks (account_id, source_key)
    WHERE status IN ('STARTING', 'IN_PROGRESS', 'CANCELING');

-- Describe pages walk one account in seq order, optionally narrowed by
-- status, source or bucket.
CREATE INDEX rdsexport_export_tasks_account_seq ON rdsexport_export_tasks (account_id, seq);
CREATE INDEX rdsexport_export_tasks_account_status ON rdsexport_export_tasks (account_id, status, seq);
CREATE INDEX rdsexport_export_tasks_account_source ON rdsexport_export_tasks (account_id, source_arn, seq);
CREATE INDEX rdsexport_export_tasks_account_bucket ON rdsexport_export_tasks (account_id, s3_bucket, seq);
-- The engines scan the active tasks of every account.
CREATE INDEX rdsexport_export_tasks_active ON rdsexport_export_tasks (seq)
    WHERE status IN ('STARTING', 'IN_PROGRESS', 'CANCELING');
