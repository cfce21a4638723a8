#!/usr/bin/env bash
# Load test of coarsening on PostgreSQL (issue 15, part 3). Not run in CI.
#
# Starts a throwaway PostgreSQL (like bench/drain_load.sh), lets partctl make daily partitions
# of `ev` from 200 days ago, fills ROWS rows across the days from 200 to 100 days ago, then
# runs pgbench with 4 clients (reads `WHERE id = :id` on the parent, which cannot prune, and
# inserts into the current period) while `partctl apply` merges the days of every month that
# ended more than 90 days ago into one partition per month (copy, compare, swap). Reports
# failed transactions, the largest latency seen by pgbench (per-transaction log) against
# 2 x lock_timeout, the apply time, the load average, count + checksum before and after, the
# partition count before and after, and whether the plan is empty afterwards.
#
# Usage: bash bench/coarsen_load.sh            (ROWS=1000000 SECS=90 LOCK=1s)
#        PARTCTL=target/debug/partctl bash bench/coarsen_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
SECS=${SECS:-90}
LOCK=${LOCK:-1s}

. bench/lib.sh
need_partctl
start_pg coarsen

TODAY=$(date -u +%F)
START=$(date -u -d "$TODAY - 200 days" +%F)
policy() {
    cat <<TOML
[[table]]
name = "public.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 1
timezone = "UTC"
start = "$START"
lock_timeout = "$LOCK"
$1
TOML
}
policy "" > "$WORK/days.toml"
policy 'coarsen = [{ after = "90 days", interval = "1 month" }]' > "$WORK/policy.toml"
chmod 644 "$WORK"/*.toml

echo "== daily partitions from $START, $ROWS rows across the days from 200 to 100 days ago"
"${PSQL[@]}" -c "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, payload text) PARTITION BY RANGE (ts)"
"${PSQL[@]}" -c "CREATE INDEX ON ev (id)"
"$PARTCTL" --policies "$WORK/days.toml" apply > /dev/null 2>&1
"${PSQL[@]}" <<SQL
INSERT INTO ev (ts, payload)
SELECT timestamptz '$START 00:00:00+00' + (g % 100) * interval '1 day'
           + (g % 86000) * interval '1 second', md5(g::text)
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE ev;
SQL
PARTS="SELECT count(*) FROM pg_inherits WHERE inhparent = 'ev'::regclass"
PARTS_BEFORE=$("${PSQL[@]}" -c "$PARTS")
SUM="SELECT count(*) || ' ' || sum(hashtext(t::text)) FROM ev t WHERE payload <> 'bench'"
BEFORE=$("${PSQL[@]}" -c "$SUM")

pgbench_load "$SECS"
sleep 3
echo "== partctl apply (coarsen after 90 days into months, lock_timeout = $LOCK)"
T0=$(date +%s.%N)
"$PARTCTL" --policies "$WORK/policy.toml" apply 2> "$WORK/apply.err" > "$WORK/apply.out" || {
    echo "apply failed:"; cat "$WORK/apply.err"; }
T1=$(date +%s.%N)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
wait $PGB || true
AFTER=$("${PSQL[@]}" -c "$SUM")
PARTS_AFTER=$("${PSQL[@]}" -c "$PARTS")
PLAN=0; "$PARTCTL" --policies "$WORK/policy.toml" plan >/dev/null 2>&1 || PLAN=$?

echo "== results"
grep -cE "^applied .*/coarsen/" "$WORK/apply.err" | sed 's/^/coarsen steps applied: /' || true
echo "apply seconds:        $(python3 -c "print(round($T1 - $T0, 2))")"
echo "load average (1/5/15 min, at the end of apply): $LOAD"
pgbench_report " (2 x lock_timeout = 2 x $LOCK)"
echo "partitions before: $PARTS_BEFORE, after: $PARTS_AFTER"
echo "count+checksum before: $BEFORE"
echo "count+checksum after:  $AFTER"
[ "$BEFORE" = "$AFTER" ] && echo "rows: every row present exactly once" || echo "rows: MISMATCH"
echo "plan afterwards exit: $PLAN (0 = empty)"
