-- {seconds}: how long reading the catalog may wait for a metadata lock (a number partctl
-- computes from the policies' lock_timeout and retries).
SET SESSION lock_wait_timeout = {seconds}
