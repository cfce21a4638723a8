-- One run of one table. $2, $3: UTC times as text ('2026-11-21 03:00:00.000000+00').
INSERT INTO partctl.run_history
       (table_name, started_at, finished_at, status, steps_applied, rows_moved, message)
VALUES ($1, $2::text::timestamptz, $3::text::timestamptz, $4, $5, $6, $7)
RETURNING id
