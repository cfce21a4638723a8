-- The bound cache's key (see src/backend/postgres/bound_cache.rs), read once when a read-only
-- command or apply uses the cache: the cluster's system identifier (new on initdb, so after
-- pg_dump and restore or pg_upgrade), its timeline (new on every point-in-time restore and
-- promotion, which keep the identifier but rewind the oid and xid counters), the database's
-- oid, the server's port and its version (pg_get_expr's text may change with it). An error here
-- (pg_control_system() revoked) only turns the cache off. Read with the catalog's lock timeout
-- set (as session_lock_timeout.sql, $1), in the same round trip: the first column.
SELECT set_config('lock_timeout', $1, false),
       (SELECT system_identifier::text FROM pg_control_system()),
       (SELECT timeline_id::text FROM pg_control_checkpoint()),
       (SELECT oid::text FROM pg_database WHERE datname = current_database()),
       current_setting('port'),
       current_setting('server_version')
