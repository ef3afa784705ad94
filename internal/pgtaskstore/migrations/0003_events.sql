-- DescribeEvents: what happened to the sources of every account. Rows are
-- written in the transaction of the change they report. seq orders them
-- and pages them, as for tasks and snapshots; it is never reused. Keys
-- compare as bytes (collation "C").
CREATE TABLE rdsexport_events (
    seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        text COLLATE "C" NOT NULL,
    region            text NOT NULL,
    -- The AWS event ID (RDS-EVENT-0042), '' when AWS documents none.
    event_id          text NOT NULL,
    source_type       text COLLATE "C" NOT NULL,
    -- Compared case-insensitively through lower(), which folds ASCII only
    -- in collation "C", as SQLite's NOCASE.
    source_identifier text COLLATE "C" NOT NULL,
    source_arn        text NOT NULL,
    message           text NOT NULL,
    categories        text[] NOT NULL,
    date              timestamptz NOT NULL
);

-- Describe pages walk one account in seq order, from a date.
CREATE INDEX rdsexport_events_account_seq ON rdsexport_events (account_id, seq);
CREATE INDEX rdsexport_events_account_date ON rdsexport_events (account_id, date);
