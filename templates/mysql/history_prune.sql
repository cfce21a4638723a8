-- ?, ?, ?: the qualified table name, UTC time as text, the table name again. Delete the table's
-- runs that started before that time, but never its latest successful run (the schedule counts
-- from it). The derived table lets MySQL read the table it deletes from.
DELETE FROM `partctl`.`run_history`
 WHERE `table_name` = ?
   AND `started_at` < ?
   AND `id` <> (SELECT `keep`.`id` FROM (
         SELECT COALESCE(MAX(`id`), -1) AS `id` FROM `partctl`.`run_history`
          WHERE `table_name` = ? AND `status` = 'ok') AS `keep`)
