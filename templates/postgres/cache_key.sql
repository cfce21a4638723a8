-- The bound cache's key (see src/backend/postgres/bound_cache.rs), read only when a read-only
-- command uses the cache: the cluster's system identifier (new on initdb, so after pg_dump and
-- restore or pg_upgrade), its timeline (new on every point-in-time restore and promotion, which
-- keep the identifier but rewind the oid and xid counters), the database's oid, the server's
-- port and its version (pg_get_expr's text may change with it). An error here
-- (pg_control_system() revoked) only turns the cache off.
SELECT (SELECT system_identifier::text FROM pg_control_system()),
       (SELECT timeline_id::text FROM pg_control_checkpoint()),
       (SELECT oid::text FROM pg_database WHERE datname = current_database()),
       current_setting('port'),
       current_setting('server_version')
