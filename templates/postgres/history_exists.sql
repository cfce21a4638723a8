-- Whether the run history table exists (read without creating anything).
SELECT to_regclass('partctl.run_history') IS NOT NULL
