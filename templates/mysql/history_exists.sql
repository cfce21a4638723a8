-- Whether the run history table exists (read without creating anything).
SELECT COUNT(*) FROM information_schema.TABLES
 WHERE TABLE_SCHEMA = 'partctl' AND TABLE_NAME = 'run_history'
