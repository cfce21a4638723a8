-- Through Vitess's vtgate: partition DDL must run directly on every shard, never through
-- Online DDL (whose DROP PARTITION keeps the dropped rows in the next partition, vitess #15674).
SET @@ddl_strategy = 'direct'
