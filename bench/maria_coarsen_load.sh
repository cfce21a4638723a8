#!/usr/bin/env bash
# Lock measurement of coarsening on MariaDB (issue 15, part 3). Not run in CI.
#
# Starts a throwaway MariaDB (as bench/maria_drain_load.sh does), lets partctl make daily
# partitions of `bench.ev` (RANGE COLUMNS(ts), PRIMARY KEY (id, ts)) from 200 days ago, fills
# ROWS rows across the days from 200 to 100 days ago, then runs the load generator
# (bench/maria_load.rs: CLIENTS clients, reads `WHERE id = ?` that cannot prune, inserts into
# the current period: a partition the REORGANIZE does not touch) while `partctl apply` merges
# the days of every month that ended more than 90 days ago with one
# `REORGANIZE PARTITION d1, ..., dn INTO (PARTITION month ...)` per month. Reports each
# REORGANIZE's time, the largest read and write latency of the load (how long statements on
# other partitions were blocked), failed operations, count + checksum before and after, the
# partition count and the plan's exit afterwards.
#
# Usage: bash bench/maria_coarsen_load.sh      (ROWS=1000000 SECS=90 CLIENTS=4)
#        PARTCTL=target/debug/partctl LOADGEN=target/debug/examples/maria_load bash bench/maria_coarsen_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
SECS=${SECS:-90}
CLIENTS=${CLIENTS:-4}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-1s}

. bench/lib.sh
need_partctl
need_loadgen
start_maria mcoarsen

START=$(date -u -d "$(date -u +%F) - 200 days" +%F)
policy() {
    cat <<TOML
[[table]]
name = "bench.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 1
start = "$START"
lock_timeout = "$LOCK_TIMEOUT"
statement_timeout = "30min"
$1
TOML
}
policy "" > "$WORK/days.toml"
policy 'coarsen = [{ after = "90 days", interval = "1 month" }]' > "$WORK/policy.toml"

echo "== daily partitions from $START, $ROWS rows across the days from 200 to 100 days ago"
"${SQL[@]}" <<SQL
CREATE DATABASE bench;
USE bench;
CREATE TABLE ev (id BIGINT NOT NULL AUTO_INCREMENT, ts DATETIME NOT NULL, payload VARCHAR(40),
                 PRIMARY KEY (id, ts))
  PARTITION BY RANGE COLUMNS(ts) (PARTITION p0 VALUES LESS THAN ('$START'));
SQL
"$PARTCTL" --policies "$WORK/days.toml" apply > /dev/null 2>&1
T0=$(date +%s.%N)
"${SQL[@]}" bench <<SQL
INSERT INTO ev (id, ts, payload)
SELECT seq, TIMESTAMP('$START') + INTERVAL (seq % 100) DAY + INTERVAL (seq % 86000) SECOND, MD5(seq)
  FROM seq_1_to_$ROWS;
ANALYZE TABLE ev;
SQL
echo "fill seconds: $(python3 -c "print(round($(date +%s.%N) - $T0, 1))")"
PARTS="SELECT COUNT(*) FROM information_schema.partitions WHERE table_schema='bench' AND table_name='ev'"
PARTS_BEFORE=$("${SQL[@]}" -e "$PARTS")
SUM="SELECT CONCAT(COUNT(*), ' ', SUM(CRC32(CONCAT_WS(',', id, ts, payload)))) FROM bench.ev WHERE payload <> 'bench'"
BEFORE=$("${SQL[@]}" -e "$SUM")

echo "== load: $CLIENTS clients, $SECS s, reads WHERE id = ? (no pruning) + inserts into the current period"
"$LOADGEN" --port "$PORT" --db bench --table ev --clients "$CLIENTS" --secs "$SECS" \
    --max-id "$ROWS" > "$WORK/load.json" 2> "$WORK/load.err" &
LOAD=$!
sleep 3
echo "== partctl apply (coarsen after 90 days into months)"
T0=$(date +%s.%N)
APPLY=0
"$PARTCTL" --policies "$WORK/policy.toml" apply > "$WORK/apply.out" 2> "$WORK/apply.err" || APPLY=$?
T1=$(date +%s.%N)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
wait $LOAD || true
AFTER=$("${SQL[@]}" -e "$SUM")
PLAN=0; "$PARTCTL" --policies "$WORK/policy.toml" plan >/dev/null 2>&1 || PLAN=$?

echo "== results"
[ "$APPLY" = 0 ] || { echo "apply exit $APPLY"; tail -5 "$WORK/apply.err"; }
echo "coarsen steps applied: $(grep -cE "coarsen/" "$WORK/apply.err" || true)"
echo "apply seconds:         $(python3 -c "print(round($T1 - $T0, 2))") (from $T0 to $T1)"
echo "load average at the end of apply (1/5/15 min): $LOADAVG"
echo "load summary:          $(cat "$WORK/load.json")"
echo "count+checksum before: $BEFORE"
echo "count+checksum after:  $AFTER"
[ "$BEFORE" = "$AFTER" ] && echo "rows: every row present exactly once" || echo "rows: MISMATCH"
echo "partitions before: $PARTS_BEFORE, after: $("${SQL[@]}" -e "$PARTS")"
echo "plan afterwards exit:  $PLAN (0 = empty)"

echo "== one REORGANIZE alone, timed with a write to another partition (the current day) and a pruned read"
"${SQL[@]}" bench <<SQL
CREATE TABLE probe LIKE ev;
ALTER TABLE probe REMOVE PARTITIONING;
ALTER TABLE probe PARTITION BY RANGE COLUMNS(ts) (
    PARTITION d1 VALUES LESS THAN ('$(date -u -d "$START + 10 days" +%F)'),
    PARTITION d2 VALUES LESS THAN ('$(date -u -d "$START + 20 days" +%F)'),
    PARTITION d3 VALUES LESS THAN ('$(date -u -d "$START + 30 days" +%F)'),
    PARTITION pnow VALUES LESS THAN (MAXVALUE));
INSERT INTO probe SELECT * FROM ev WHERE ts < '$(date -u -d "$START + 30 days" +%F)';
SQL
timed() { # label sql
    local t0 t1
    t0=$(date +%s.%N); "${SQL[@]}" bench -e "$2" >/dev/null; t1=$(date +%s.%N)
    printf '  %-52s %8.1f ms\n' "$1" "$(python3 -c "print(($t1 - $t0) * 1000)")"
}
echo "probe rows in d1..d3: $("${SQL[@]}" bench -e "SELECT COUNT(*) FROM probe PARTITION (d1, d2, d3)")"
timed "INSERT into pnow (baseline)" "INSERT INTO probe (ts, payload) VALUES (UTC_TIMESTAMP(), 'probe')"
A0=$(date +%s.%N)
"${SQL[@]}" bench -e "ALTER TABLE probe REORGANIZE PARTITION d1, d2, d3 INTO (
    PARTITION m1 VALUES LESS THAN ('$(date -u -d "$START + 30 days" +%F)'))" &
ALT=$!
sleep 0.3
timed "INSERT into pnow during the REORGANIZE" "INSERT INTO probe (ts, payload) VALUES (UTC_TIMESTAMP(), 'probe')" > "$WORK/p1" &
P1=$!
timed "SELECT pruned to pnow during the REORGANIZE" "SELECT COUNT(*) FROM probe WHERE ts > UTC_DATE()" > "$WORK/p2" &
P2=$!
wait $ALT
A1=$(date +%s.%N)
wait $P1 $P2
cat "$WORK"/p1 "$WORK"/p2
echo "  REORGANIZE of 3 partitions took $(python3 -c "print(round(($A1 - $A0) * 1000, 1))") ms"
