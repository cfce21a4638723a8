-- ?: how long reading the catalog may wait for a metadata lock, in seconds.
SET SESSION lock_wait_timeout = ?
