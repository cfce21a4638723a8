-- $1, $2: schema and name of a partitioned table. The other sessions holding a lock on it or on
-- one of its partitions (what a lock wait that gave up was waiting for), oldest transaction
-- first: pid, user, application, seconds the transaction has been open (-1: none), the start
-- of its current or last query, and the lock mode.
SELECT a.pid,
       coalesce(a.usename::text, ''),
       coalesce(a.application_name, ''),
       coalesce(extract(epoch FROM clock_timestamp() - a.xact_start)::bigint, -1),
       coalesce(left(regexp_replace(a.query, '\s+', ' ', 'g'), 120), ''),
       string_agg(DISTINCT l.mode, ', ')
  FROM pg_locks l
  JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.granted
   AND l.locktype = 'relation'
   AND l.pid <> pg_backend_pid()
   AND l.relation IN (
         SELECT c.oid
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2
         UNION
         SELECT i.inhrelid
           FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhparent
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2)
 GROUP BY 1, 2, 3, 4, 5
 ORDER BY 4 DESC
 LIMIT 5
