-- `init`: the partitioned tables of the connection's database.
SELECT DISTINCT TABLE_SCHEMA, TABLE_NAME
FROM information_schema.PARTITIONS
WHERE TABLE_SCHEMA = DATABASE() AND PARTITION_NAME IS NOT NULL
ORDER BY 1, 2
