-- $1: the 64-bit keys of the tables to change (see advisory_lock.sql), taken in one round
-- trip, in order, without waiting; one row per key: its place (from 1) and whether it is held.
SELECT u.ord, pg_try_advisory_lock(u.k)
FROM unnest($1::int8[]) WITH ORDINALITY AS u(k, ord)
