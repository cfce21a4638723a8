-- $1: the qualified table name, $2: how many runs. The latest runs first; times RFC 3339, UTC.
SELECT id,
       table_name,
       to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       status,
       steps_applied::bigint,
       rows_moved,
       message
  FROM partctl.run_history
 WHERE table_name = $1
 ORDER BY started_at DESC, id DESC
 LIMIT $2
