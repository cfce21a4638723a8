-- ?: the qualified table name. When its last successful run started (RFC 3339, UTC), or NULL.
SELECT DATE_FORMAT(MAX(`started_at`), '%Y-%m-%dT%H:%i:%s.%fZ')
  FROM `partctl`.`run_history`
 WHERE `table_name` = ? AND `status` = 'ok'
