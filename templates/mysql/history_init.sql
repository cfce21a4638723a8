-- The history of `partctl run`, shared by every host that runs it against this server.
-- Statements are separated by a semicolon at the end of a line. Times are UTC (DATETIME has no
-- zone; partctl writes and reads UTC).
CREATE DATABASE IF NOT EXISTS `partctl`;
CREATE TABLE IF NOT EXISTS `partctl`.`run_history` (
    `id`            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    `table_name`    VARCHAR(255) NOT NULL,
    `started_at`    DATETIME(6)  NOT NULL,
    `finished_at`   DATETIME(6)  NOT NULL,
    `status`        VARCHAR(16)  NOT NULL CHECK (`status` IN ('ok', 'failed', 'skipped')),
    `steps_applied` INT          NOT NULL DEFAULT 0,
    `rows_moved`    BIGINT       NOT NULL DEFAULT 0,
    `message`       TEXT         NOT NULL,
    KEY `run_history_table_started` (`table_name`, `started_at`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
