-- After session.sql: the server's version, and the schema an unqualified table name means
-- (NULL when no schema on the search_path exists).
SELECT current_setting('server_version'), current_schema()::text
