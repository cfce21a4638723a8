#!/usr/bin/env bash
# Load test of `partctl convert` on PostgreSQL (issue 13). Not run in CI.
#
# Starts a throwaway PostgreSQL (like scripts/quickstart.sh), fills a plain table `ev` with ROWS
# rows across the 30 days before today and a control table `ev_control` with the same rows,
# then runs pgbench with 4 clients doing inserts, updates and deletes on random keys of `ev`,
# each mirrored on `ev_control` in the same statement, while `partctl convert` turns `ev` into a
# daily-partitioned table. Reports failed transactions, the largest latency seen by pgbench
# (per-transaction log), the convert time and its phases, count + checksum over every column of
# `ev` (partitioned), `ev_unpartitioned` (the original, kept in sync) and the control table, and
# whether the plan is empty afterwards.
#
# To locate slow transactions the server logs lock waits over 100 ms (log_lock_waits,
# deadlock_timeout = 100ms), statements over 200 ms, DDL, checkpoints and autovacuum; partctl's
# stderr lines are stamped with the time; the script prints the SLOW slowest transactions with
# their start time, next to what partctl and the server logged then. KEEP=1 keeps the work
# directory (server.log, pgbench logs, convert.err) and prints its path.
#
# Usage: bash bench/convert_load.sh            (ROWS=2000000 BATCH=50000 SECS=120 SLOW=5)
#        PARTCTL=target/debug/partctl ROWS=200000 SECS=40 bash bench/convert_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-2000000}
BATCH=${BATCH:-50000}
SECS=${SECS:-120}
SLOW=${SLOW:-5}

. bench/lib.sh
need_partctl
start_pg convert "-c log_lock_waits=on -c deadlock_timeout=100ms -c log_min_duration_statement=200 \
    -c log_statement=ddl -c log_checkpoints=on -c log_autovacuum_min_duration=0 \
    -c log_line_prefix=%m_[%p]_%a_"

TODAY=$(date -u +%F)
echo "== filling ev (plain) and ev_control: $ROWS rows across the 30 days before $TODAY"
"${PSQL[@]}" <<SQL
CREATE TABLE ev (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, n int NOT NULL DEFAULT 0, payload text);
CREATE INDEX ON ev (ts);
INSERT INTO ev (ts, payload)
SELECT timestamptz '$TODAY 00:00:00+00' - interval '30 days' + (g % 30) * interval '1 day'
           + (g % 86000) * interval '1 second', md5(g::text)
  FROM generate_series(1, $ROWS) g;
CREATE TABLE ev_control AS SELECT * FROM ev;
CREATE UNIQUE INDEX ON ev_control (id);
VACUUM ANALYZE ev;
VACUUM ANALYZE ev_control;
SQL
cat > "$WORK/policy.toml" <<TOML
[[table]]
name = "public.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 2
timezone = "UTC"
lock_timeout = "1s"
move_batch_rows = $BATCH
TOML
chmod 644 "$WORK/policy.toml"
SUM() { "${PSQL[@]}" -c "SELECT count(*) || ' ' || sum(hashtextextended(ROW(id, ts, n, payload)::text, 0)) FROM $1"; }

cat > "$WORK/insert.sql" <<'SQL'
WITH i AS (INSERT INTO ev (ts, payload) VALUES (now(), 'bench') RETURNING *)
INSERT INTO ev_control SELECT * FROM i;
SQL
cat > "$WORK/update.sql" <<SQL
\set id random(1, $ROWS)
WITH u AS (UPDATE ev SET n = n + 1, payload = md5(random()::text) WHERE id = :id RETURNING *)
UPDATE ev_control c SET n = u.n, payload = u.payload FROM u WHERE c.id = u.id;
SQL
cat > "$WORK/delete.sql" <<SQL
\set id random(1, $ROWS)
WITH d AS (DELETE FROM ev WHERE id = :id RETURNING id)
DELETE FROM ev_control c USING d WHERE c.id = d.id;
SQL
echo "== pgbench: 4 clients, $SECS s, inserts, updates and deletes on random keys"
(cd "$WORK" && "$PGBIN/pgbench" -n -c 4 -j 4 -T "$SECS" -f insert.sql -f update.sql -f delete.sql \
    --log --log-prefix="$WORK/pgb" "$DATABASE_URL" > "$WORK/pgbench.out" 2>&1) &
PGB=$!
sleep 3
echo "== partctl convert (move_batch_rows = $BATCH)"
T0=$(date +%s.%N)
STAMP=(python3 -u -c 'import sys, time
for l in sys.stdin: print("%.3f %s" % (time.time(), l), end="", flush=True)')
{ "$PARTCTL" --policies "$WORK/policy.toml" --table public.ev convert 2>&1 > "$WORK/convert.out" \
    | "${STAMP[@]}" > "$WORK/convert.err"; } || { echo "convert failed:"; cat "$WORK/convert.err"; }
T1=$(date +%s.%N)
wait $PGB || true

echo "== results"
cat "$WORK/convert.out"
echo "convert seconds:      $(python3 -c "print(round($T1 - $T0, 2))")"
grep -E "number of (transactions actually processed|failed transactions)|latency average|aborted" "$WORK/pgbench.out" || true
# pgbench --log: client_id transaction_no time(us) script_no time_epoch time_us
echo "largest latency (ms): $(cat "$WORK"/pgb.* | awk 'BEGIN{m=0} {if ($3>m) m=$3} END{printf "%.1f", m/1000}')"
echo "convert ran from $(date -u -d @"$T0" +%T.%3N) to $(date -u -d @"$T1" +%T.%3N) UTC"
echo "the $SLOW slowest transactions (script 0 insert, 1 update, 2 delete), start .. end UTC:"
cat "$WORK"/pgb.* | sort -k3,3nr > "$WORK/slowest"
head -n "$SLOW" "$WORK/slowest" | while read -r _ _ us script sec usec; do
    end=$(python3 -c "print($sec + $usec / 1e6)")
    start=$(python3 -c "print($end - $us / 1e6)")
    echo "  $(printf '%8.1f' "$(python3 -c "print($us / 1000)")") ms script $script  $(date -u -d @"$start" +%T.%3N) .. $(date -u -d @"$end" +%T.%3N)"
done
echo "partctl lines (UTC):"
while read -r t rest; do echo "  $(date -u -d @"$t" +%T.%3N) ${rest:0:160}"; done < "$WORK/convert.err" > "$WORK/lines"
head -n 60 "$WORK/lines"
echo "server log (lock waits, slow statements, DDL, checkpoints, autovacuum):"
grep -E "still waiting|acquired|duration:|statement:|checkpoint|automatic (vacuum|analyze)|deadlock|ERROR" \
    "$WORK/server.log" | grep -v "_psql_" | cut -c1-220 > "$WORK/events" || true
head -n 80 "$WORK/events"
C=$(SUM ev_control); P=$(SUM ev); U=$(SUM ev_unpartitioned 2>/dev/null || echo "no such table")
echo "control:          $C"
echo "ev (partitioned): $P"
echo "ev_unpartitioned: $U"
[ "$C" = "$P" ] && [ "$C" = "$U" ] && echo "checksums: equal" || echo "checksums: MISMATCH"
PLAN=0; "$PARTCTL" --policies "$WORK/policy.toml" plan >/dev/null 2>&1 || PLAN=$?
echo "plan afterwards exit: $PLAN (0 = empty)"
