-- $1: the qualified table name. When its last successful run started (RFC 3339, UTC), or NULL.
SELECT to_char(max(started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  FROM partctl.run_history
 WHERE table_name = $1 AND status = 'ok'
