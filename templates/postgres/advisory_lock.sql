-- $1: a 64-bit key derived from the table's qualified name. Session-level: held across the
-- table's steps, released by advisory_unlock.sql or when the connection ends.
SELECT pg_try_advisory_lock($1)
