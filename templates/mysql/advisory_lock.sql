-- ?: a short name derived from the table (GET_LOCK names are limited to 64 characters).
-- Session-level: COMMIT does not release it; RELEASE_LOCK or the end of the connection does.
SELECT GET_LOCK(?, 0)
