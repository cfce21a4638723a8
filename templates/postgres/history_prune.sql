-- $1: the qualified table name, $2: UTC time as text. Delete the table's runs that started
-- before $2, but never its latest successful run (the schedule counts from it).
DELETE FROM partctl.run_history
 WHERE table_name = $1
   AND started_at < $2::text::timestamptz
   AND id <> (SELECT coalesce(max(id), -1) FROM partctl.run_history
               WHERE table_name = $1 AND status = 'ok')
