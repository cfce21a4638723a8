-- Every partctl session on MySQL/MariaDB, in one statement (one round trip): UTC
-- (UNIX_TIMESTAMP bounds and TIMESTAMP literals are read and written in UTC), and backslashes
-- in string literals escape (the literal filter escapes them).
SET SESSION time_zone = '+00:00',
    SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')
