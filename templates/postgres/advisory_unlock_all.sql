-- $1: the keys advisory_lock_all.sql took; released in one round trip.
SELECT pg_advisory_unlock(u.k)
FROM unnest($1::int8[]) AS u(k)
