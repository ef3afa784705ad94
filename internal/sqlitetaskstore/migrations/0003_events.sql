-- DescribeEvents: what happened to the sources of every account. Rows are
-- written in the transaction of the change they report. seq orders them
-- and pages them, as for snapshots.
CREATE TABLE events (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id        TEXT    NOT NULL,
    region            TEXT    NOT NULL,
    -- The AWS event ID (RDS-EVENT-0042), '' when AWS documents none.
    event_id          TEXT    NOT NULL,
    source_type       TEXT    NOT NULL,
    source_identifier TEXT    NOT NULL COLLATE NOCASE,
    source_arn        TEXT    NOT NULL,
    message           TEXT    NOT NULL,
    -- Categories as ",a,b," so that one can be matched with instr().
    categories        TEXT    NOT NULL,
    -- Unix microseconds, UTC.
    date              INTEGER NOT NULL
) STRICT;

-- Describe pages walk one account in seq order, from a date.
CREATE INDEX events_account_seq ON events (account_id, seq);
CREATE INDEX events_account_date ON events (account_id, date);
