-- ?: the table's database. MySQL does not say who holds a metadata lock without an optional
-- plugin, so: the other sessions on that database with an open transaction or a statement
-- running, oldest first (what SHOW PROCESSLIST would show a DBA): id, user, host, seconds the
-- transaction (or statement) has been running, the start of its current or last statement.
SELECT p.ID,
       IFNULL(p.USER, ''),
       IFNULL(p.HOST, ''),
       IFNULL(TIMESTAMPDIFF(SECOND, t.trx_started, NOW()), p.TIME),
       LEFT(REPLACE(REPLACE(IFNULL(p.INFO, IFNULL(t.trx_query, '')), '\n', ' '), '\r', ' '), 120)
  FROM information_schema.PROCESSLIST p
  LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
 WHERE p.ID <> CONNECTION_ID()
   AND p.DB = ?
   AND (t.trx_id IS NOT NULL OR p.INFO IS NOT NULL)
 ORDER BY 4 DESC
 LIMIT 5
