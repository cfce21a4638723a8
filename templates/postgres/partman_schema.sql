-- `init`: the schema pg_partman is installed in, when it is.
SELECT n.nspname::text
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_partman'
