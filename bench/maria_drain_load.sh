#!/usr/bin/env bash
# Load test of draining a MAXVALUE tail on MariaDB (issue 10). Not run in CI.
#
# Starts a throwaway MariaDB (like tests/common/mod.rs: mariadb-install-db in a temp dir, a
# free loopback port, --user=root when run as root), fills the only partition of `bench.ev`
# (RANGE COLUMNS(ts), PARTITION pmax VALUES LESS THAN (MAXVALUE), PRIMARY KEY (id, ts)) with
# ROWS rows across the 30 days before today, then runs the load generator
# (bench/maria_load.rs: 4 clients, reads `WHERE id = ?` that cannot prune, inserts into the
# current period) while `partctl apply` reorganizes the tail into daily partitions. Reports
# failed transactions, the largest read and write latency, apply time and result, count +
# checksum (rows not written by the load) before and after, and the plan's exit afterwards.
#
# Then a probe of what one REORGANIZE blocks: a copy `probe` of the table with a partition
# for the oldest 10 days and the rest in pmax; while `REORGANIZE PARTITION pmax` runs, one
# of each of these is timed: a read pruned to the other partition, a read that cannot prune,
# an insert into the other partition, an insert into pmax's range.
#
# Usage: bash bench/maria_drain_load.sh        (ROWS=1000000 SECS=120 CLIENTS=4)
#        NO_APPLY=1 SECS=40 bash bench/maria_drain_load.sh   (the load alone: a control)
#        MODE=locked bash bench/maria_drain_load.sh          (one REORGANIZE per day: the before)
#        BATCH=250000 bash bench/maria_drain_load.sh         (fewer, larger staging batches)
#        PARTCTL=target/debug/partctl LOADGEN=target/debug/examples/maria_load ROWS=200000 bash bench/maria_drain_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
SECS=${SECS:-120}
CLIENTS=${CLIENTS:-4}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-1s}
BATCH=${BATCH:-50000}      # move_batch_rows
MODE=${MODE:-batched}     # move_mode: batched (staged) | locked (one REORGANIZE per day)
NO_APPLY=${NO_APPLY:-0}   # 1: the load alone (a control run), no apply and no probe

. bench/lib.sh
need_partctl
need_loadgen
start_maria mdrain

echo "== filling the MAXVALUE tail: $ROWS rows across the 30 days before $(date -u +%F)"
T0=$(date +%s.%N)
"${SQL[@]}" <<SQL
CREATE DATABASE bench;
USE bench;
CREATE TABLE ev (id BIGINT NOT NULL AUTO_INCREMENT, ts DATETIME NOT NULL, payload VARCHAR(40),
                 PRIMARY KEY (id, ts))
  PARTITION BY RANGE COLUMNS(ts) (PARTITION pmax VALUES LESS THAN (MAXVALUE));
INSERT INTO ev (id, ts, payload)
SELECT seq, TIMESTAMP(UTC_DATE()) - INTERVAL 30 DAY + INTERVAL (seq % 30) DAY
            + INTERVAL (seq % 86000) SECOND, MD5(seq)
  FROM seq_1_to_$ROWS;
ANALYZE TABLE ev;
SQL
echo "fill seconds: $(python3 -c "print(round($(date +%s.%N) - $T0, 1))")"
cat > "$WORK/policy.toml" <<TOML
[[table]]
name = "bench.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 1
default_partition = true
lock_timeout = "$LOCK_TIMEOUT"
statement_timeout = "30min"
move_batch_rows = $BATCH
move_mode = "$MODE"
TOML
SUM="SELECT CONCAT(COUNT(*), ' ', SUM(CRC32(CONCAT_WS(',', id, ts, payload)))) FROM bench.ev WHERE payload <> 'bench'"
BEFORE=$("${SQL[@]}" -e "$SUM")
"$PARTCTL" --policies "$WORK/policy.toml" plan > "$WORK/plan.before" 2>&1 || true

echo "== load: $CLIENTS clients, $SECS s, reads WHERE id = ? (no pruning) + inserts into the current period"
"$LOADGEN" --port "$PORT" --db bench --table ev --clients "$CLIENTS" --secs "$SECS" \
    --max-id "$ROWS" > "$WORK/load.json" 2> "$WORK/load.err" &
LOAD=$!
sleep 3
echo "== partctl apply (move_mode = $MODE, move_batch_rows = $BATCH)"
T0=$(date +%s.%N)
APPLY=0
if [ "$NO_APPLY" = 1 ]; then echo "(control run: no apply)"; : > "$WORK/apply.out"; : > "$WORK/apply.err"
else "$PARTCTL" --policies "$WORK/policy.toml" apply > "$WORK/apply.out" 2> "$WORK/apply.err" || APPLY=$?
fi
T1=$(date +%s.%N)
if [ "$APPLY" != 0 ]; then
    echo "apply exit $APPLY; rerunning once (under load) to converge"
    grep -iE "error|mismatch|arrived" "$WORK/apply.err" "$WORK/apply.out" | head -5 || true
    "$PARTCTL" --policies "$WORK/policy.toml" apply > "$WORK/apply2.out" 2> "$WORK/apply2.err" \
        || { echo "second apply failed too:"; tail -5 "$WORK/apply2.err"; }
fi
wait $LOAD || true
AFTER=$("${SQL[@]}" -e "$SUM")
PLAN=0; "$PARTCTL" --policies "$WORK/policy.toml" plan >/dev/null 2>&1 || PLAN=$?

echo "== results"
tail -2 "$WORK/apply.out" || true
echo "apply exit:            $APPLY"
echo "apply seconds:         $(python3 -c "print(round($T1 - $T0, 2))") (from $T0 to $T1)"
echo "load summary:          $(cat "$WORK/load.json")"
echo "count+checksum before: $BEFORE"
echo "count+checksum after:  $AFTER"
[ "$BEFORE" = "$AFTER" ] && echo "rows: every row present exactly once" || echo "rows: MISMATCH"
echo "bench rows written:    $("${SQL[@]}" -e "SELECT COUNT(*) FROM bench.ev WHERE payload = 'bench'")"
echo "partitions:            $("${SQL[@]}" -e "SELECT COUNT(*) FROM information_schema.partitions WHERE table_schema='bench' AND table_name='ev'")"
echo "plan afterwards exit:  $PLAN (0 = empty)"

[ "$NO_APPLY" = 1 ] && exit 0
echo "== probe: what one REORGANIZE blocks"
"${SQL[@]}" <<SQL
USE bench;
CREATE TABLE probe (id BIGINT NOT NULL AUTO_INCREMENT, ts DATETIME NOT NULL, payload VARCHAR(40),
                    PRIMARY KEY (id, ts))
  PARTITION BY RANGE COLUMNS(ts) (
    PARTITION pold VALUES LESS THAN ('$(date -u -d '20 days ago' +%F)'),
    PARTITION pmax VALUES LESS THAN (MAXVALUE));
INSERT INTO probe SELECT * FROM ev WHERE payload <> 'bench';
SQL
echo "probe rows: pold $("${SQL[@]}" -e "SELECT COUNT(*) FROM bench.probe PARTITION (pold)"), pmax $("${SQL[@]}" -e "SELECT COUNT(*) FROM bench.probe PARTITION (pmax)")"
timed() { # label sql
    local t0 t1
    t0=$(date +%s.%N); "${SQL[@]}" bench -e "$2" >/dev/null; t1=$(date +%s.%N)
    printf '  %-58s %8.1f ms\n' "$1" "$(python3 -c "print(($t1 - $t0) * 1000)")"
}
echo "baseline (no ALTER running):"
timed "SELECT pruned to pold (ts < 25 days ago)" "SELECT COUNT(*) FROM probe WHERE ts < UTC_DATE() - INTERVAL 25 DAY AND id = 5"
timed "SELECT WHERE id = 5 (no pruning)" "SELECT * FROM probe WHERE id = 5"
A0=$(date +%s.%N)
"${SQL[@]}" bench -e "ALTER TABLE probe REORGANIZE PARTITION pmax INTO (
    PARTITION p1 VALUES LESS THAN ('$(date -u -d '10 days ago' +%F)'),
    PARTITION pmax VALUES LESS THAN (MAXVALUE))" &
ALT=$!
sleep 0.5
echo "during REORGANIZE PARTITION pmax (each started 0.5 s in, all four at once):"
"${SQL[@]}" -e "SELECT CONCAT('  ALTER state: ', STATE) FROM information_schema.processlist WHERE INFO LIKE 'ALTER TABLE probe%'"
timed "SELECT pruned to pold (ts < 25 days ago)" "SELECT COUNT(*) FROM probe WHERE ts < UTC_DATE() - INTERVAL 25 DAY AND id = 5" > "$WORK/p1" &
P1=$!
timed "SELECT WHERE id = 5 (no pruning, reads pmax)" "SELECT * FROM probe WHERE id = 5" > "$WORK/p2" &
P2=$!
timed "INSERT into pold's range" "INSERT INTO probe (ts, payload) VALUES (UTC_DATE() - INTERVAL 25 DAY, 'probe')" > "$WORK/p3" &
P3=$!
timed "INSERT into pmax's range (now)" "INSERT INTO probe (ts, payload) VALUES (UTC_TIMESTAMP(), 'probe')" > "$WORK/p4" &
P4=$!
sleep 0.3
"${SQL[@]}" -e "SELECT CONCAT('  waiting: ', LEFT(INFO, 40), ' | ', STATE) FROM information_schema.processlist WHERE INFO LIKE '%probe%' AND INFO NOT LIKE 'ALTER%' AND INFO NOT LIKE '%processlist%'"
wait $ALT
A1=$(date +%s.%N)
wait $P1 $P2 $P3 $P4
cat "$WORK"/p1 "$WORK"/p2 "$WORK"/p3 "$WORK"/p4
echo "  REORGANIZE took $(python3 -c "print(round(($A1 - $A0) * 1000, 1))") ms"
