-- One run of one table. Times: UTC as text ('2026-11-21 03:00:00.000000').
INSERT INTO `partctl`.`run_history`
       (`table_name`, `started_at`, `finished_at`, `status`, `steps_applied`, `rows_moved`, `message`)
VALUES (?, ?, ?, ?, ?, ?, ?)
