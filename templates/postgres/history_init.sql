-- The history of `partctl run`, shared by every host that runs it against this database. Run in
-- one transaction; the transaction-level advisory lock (two-key form, a key space apart from the
-- per-table locks) keeps two first runs from racing on CREATE ... IF NOT EXISTS.
SELECT pg_advisory_xact_lock(1885434995, 1);
CREATE SCHEMA IF NOT EXISTS partctl;
CREATE TABLE IF NOT EXISTS partctl.run_history (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name    text        NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    status        text        NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    steps_applied integer     NOT NULL DEFAULT 0,
    rows_moved    bigint      NOT NULL DEFAULT 0,
    message       text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS run_history_table_started
    ON partctl.run_history (table_name, started_at);
