-- ?: the qualified table name, ?: how many runs. The latest runs first; times RFC 3339, UTC.
SELECT `id`,
       `table_name`,
       DATE_FORMAT(`started_at`, '%Y-%m-%dT%H:%i:%s.%fZ'),
       DATE_FORMAT(`finished_at`, '%Y-%m-%dT%H:%i:%s.%fZ'),
       `status`,
       `steps_applied`,
       `rows_moved`,
       `message`
  FROM `partctl`.`run_history`
 WHERE `table_name` = ?
 ORDER BY `started_at` DESC, `id` DESC
 LIMIT ?
