#!/usr/bin/env bash
# Load test of a batched DEFAULT drain on PostgreSQL (issue 10). Not run in CI.
#
# Starts a throwaway PostgreSQL (like scripts/quickstart.sh), fills the DEFAULT partition of
# `ev` with ROWS rows across 30 past days, then runs pgbench with 4 clients (reads
# `WHERE id = :id` on the parent, which cannot prune, and inserts into the current period)
# while `partctl apply` drains the DEFAULT into 30 daily partitions. Reports failed
# transactions, the largest latency seen by pgbench (per-transaction log), the apply time,
# count + checksum before and after, and whether the plan is empty afterwards.
#
# Usage: bash bench/drain_load.sh            (ROWS=1000000 BATCH=50000 MODE=batched SECS=120)
#        PARTCTL=target/debug/partctl MODE=locked bash bench/drain_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
BATCH=${BATCH:-50000}
MODE=${MODE:-batched}
SECS=${SECS:-120}

. bench/lib.sh
need_partctl
start_pg drain

TODAY=$(date -u +%F)
TOMORROW=$(date -u -d tomorrow +%F)
echo "== filling the DEFAULT partition: $ROWS rows across the 30 days before $TODAY"
"${PSQL[@]}" <<SQL
CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL, payload text)
    PARTITION BY RANGE (ts);
CREATE INDEX ON ev (id);
CREATE TABLE ev_default PARTITION OF ev DEFAULT;
CREATE TABLE ev_current PARTITION OF ev FOR VALUES FROM ('$TODAY 00:00:00+00') TO ('$TOMORROW 00:00:00+00');
INSERT INTO ev (ts, payload)
SELECT timestamptz '$TODAY 00:00:00+00' - interval '30 days' + (g % 30) * interval '1 day'
           + (g % 86000) * interval '1 second', md5(g::text)
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE ev;
SQL
cat > "$WORK/policy.toml" <<TOML
[[table]]
name = "public.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 1
timezone = "UTC"
default_partition = true
lock_timeout = "1s"
move_mode = "$MODE"
move_batch_rows = $BATCH
TOML
chmod 644 "$WORK/policy.toml"
SUM="SELECT count(*) || ' ' || sum(hashtext(t::text)) FROM ev t WHERE payload <> 'bench'"
BEFORE=$("${PSQL[@]}" -c "$SUM")

pgbench_load "$SECS"
sleep 3
echo "== partctl apply (move_mode = $MODE, move_batch_rows = $BATCH)"
T0=$(date +%s.%N)
"$PARTCTL" --policies "$WORK/policy.toml" apply 2> "$WORK/apply.err" > "$WORK/apply.out" || {
    echo "apply failed:"; cat "$WORK/apply.err"; }
T1=$(date +%s.%N)
wait $PGB || true
AFTER=$("${PSQL[@]}" -c "$SUM")
PLAN=0; "$PARTCTL" --policies "$WORK/policy.toml" plan >/dev/null 2>&1 || PLAN=$?

echo "== results"
grep -E "moving step=" "$WORK/apply.err" | tail -3 || true
echo "apply seconds:        $(python3 -c "print(round($T1 - $T0, 2))")"
pgbench_report
echo "count+checksum before: $BEFORE"
echo "count+checksum after:  $AFTER"
[ "$BEFORE" = "$AFTER" ] && echo "rows: every row present exactly once" || echo "rows: MISMATCH"
echo "plan afterwards exit: $PLAN (0 = empty)"
echo "DEFAULT rows left: $("${PSQL[@]}" -c "SELECT count(*) FROM ONLY ev_default")"
