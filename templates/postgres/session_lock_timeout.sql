-- $1: how long reading the catalog may wait for a table lock (e.g. '6000ms'), for the session.
SELECT set_config('lock_timeout', $1, false)
