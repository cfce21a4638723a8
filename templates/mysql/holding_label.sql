-- The label (TABLE_COMMENT) of a table named like a holding table: schema, table.
SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
