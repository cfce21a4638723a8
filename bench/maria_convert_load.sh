#!/usr/bin/env bash
# Load test of `partctl convert` on MariaDB (issue 13). Not run in CI.
#
# Starts a throwaway MariaDB (like tests/common/mod.rs), fills a plain table `bench.ev`
# (id BIGINT AUTO_INCREMENT PRIMARY KEY, ts DATETIME, n INT, payload) with ROWS rows across the
# 30 days before today and a control table `ev_control` with the same rows, then runs the load
# generator (bench/maria_load.rs --mode convert: CLIENTS clients, each transaction an insert, an
# update of a random key or a delete of a random key of `ev`, mirrored on `ev_control` in the
# same transaction) while `partctl convert` turns `ev` into a daily-partitioned table. Reports
# failed transactions, the largest latency, the convert time and its output (the cutover's lock
# time among it), the load average, count + checksum over every column of `ev` (partitioned),
# `ev_unpartitioned` (the original, kept in sync) and the control table, and whether the plan
# is empty afterwards.
#
# Usage: bash bench/maria_convert_load.sh      (ROWS=2000000 BATCH=50000 SECS=120 CLIENTS=4)
#        PARTCTL=target/debug/partctl LOADGEN=target/debug/examples/maria_load ROWS=200000 SECS=40 bash bench/maria_convert_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-2000000}
BATCH=${BATCH:-50000}
SECS=${SECS:-120}
CLIENTS=${CLIENTS:-4}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-1s}
NO_CONVERT=${NO_CONVERT:-0}   # 1: the load alone (a control run)

. bench/lib.sh
need_partctl
need_loadgen
start_maria mconvert

echo "== filling ev (plain) and ev_control: $ROWS rows across the 30 days before $(date -u +%F)"
T0=$(date +%s.%N)
"${SQL[@]}" <<SQL
CREATE DATABASE bench;
USE bench;
CREATE TABLE ev (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, ts DATETIME NOT NULL,
                 n INT NOT NULL DEFAULT 0, payload VARCHAR(40), KEY ev_ts (ts)) ENGINE=InnoDB;
INSERT INTO ev (id, ts, payload)
SELECT seq, TIMESTAMP(UTC_DATE()) - INTERVAL 30 DAY + INTERVAL (seq % 30) DAY
            + INTERVAL (seq % 86000) SECOND, MD5(seq)
  FROM seq_1_to_$ROWS;
CREATE TABLE ev_control LIKE ev;
INSERT INTO ev_control SELECT * FROM ev;
ANALYZE TABLE ev;
SQL
echo "fill seconds: $(python3 -c "print(round($(date +%s.%N) - $T0, 1))")"
cat > "$WORK/policy.toml" <<TOML
[[table]]
name = "bench.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 2
lock_timeout = "$LOCK_TIMEOUT"
statement_timeout = "30min"
move_batch_rows = $BATCH
TOML
SUM() { "${SQL[@]}" -e "SELECT CONCAT(COUNT(*), ' ', COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(',',
    QUOTE(id), QUOTE(ts), QUOTE(n), QUOTE(payload))), 1, 16), 16, 10) AS UNSIGNED)), 0)) FROM bench.$1"; }

echo "== load: $CLIENTS clients, $SECS s, inserts, updates and deletes on random keys, mirrored on ev_control"
"$LOADGEN" --port "$PORT" --db bench --table ev --control ev_control --mode convert \
    --clients "$CLIENTS" --secs "$SECS" --max-id "$ROWS" > "$WORK/load.json" 2> "$WORK/load.err" &
LOAD=$!
( while kill -0 $LOAD 2>/dev/null; do cut -d' ' -f1 /proc/loadavg; sleep 1; done ) > "$WORK/loadavg" &
sleep 3
echo "== partctl convert (move_batch_rows = $BATCH, lock_timeout = $LOCK_TIMEOUT)"
T0=$(date +%s.%N)
CONVERT=0
if [ "$NO_CONVERT" = 1 ]; then echo "(control run: no convert)"; : > "$WORK/convert.out"
else "$PARTCTL" --policies "$WORK/policy.toml" --table bench.ev convert > "$WORK/convert.out" \
        2> >(while IFS= read -r l; do echo "$(date +%s.%N) $l"; done > "$WORK/convert.err") || CONVERT=$?
fi
T1=$(date +%s.%N)
wait $LOAD || true

echo "== results"
cat "$WORK/convert.out"
[ "$CONVERT" = 0 ] || { echo "convert exit $CONVERT:"; tail -5 "$WORK/convert.err"; }
"${SQL[@]}" -e "SHOW ENGINE INNODB STATUS" | sed 's/\\n/\n/g' | sed -n '/LATEST DETECTED DEADLOCK/,/^TRANSACTIONS$/p' | grep -E "^\*\*\*|^(INSERT|REPLACE|DELETE|UPDATE|SELECT|LOCK|RENAME)|lock mode|lock_mode" | head -20 > "$WORK/deadlock" || true
if [ -s "$WORK/deadlock" ]; then echo "latest deadlock:"; sed "s/^/  /" "$WORK/deadlock"; fi
echo "convert seconds:       $(python3 -c "print(round($T1 - $T0, 2))")"
echo "copy rows/s:           $(python3 -c "print(round($ROWS / ($T1 - $T0)))") (rows / whole convert time)"
echo "load summary:          $(cat "$WORK/load.json")"
AT=$(python3 -c "import json; print(json.load(open('$WORK/load.json'))['max_write_at_epoch'])")
echo "largest latency ended: $(python3 -c "print(round($AT - $T0, 2))") s after convert started ($(python3 -c "print(round($T1 - $T0, 2))") s: convert ended)"
echo "  convert's last line before it: $(awk -v t="$AT" '$1 <= t' "$WORK/convert.err" | tail -1 | cut -c1-160)"
echo "load average (1 min):  max $(sort -n "$WORK/loadavg" | tail -1) over the run (2 cores)"
C=$(SUM ev_control); P=$(SUM ev); U=$(SUM ev_unpartitioned)
echo "control:               $C"
echo "ev (partitioned):      $P"
echo "ev_unpartitioned:      $U"
[ "$C" = "$P" ] && [ "$C" = "$U" ] && echo "checksums:             equal" || echo "checksums:             MISMATCH"
echo "partitions:            $("${SQL[@]}" -e "SELECT COUNT(*) FROM information_schema.partitions WHERE table_schema='bench' AND table_name='ev'")"
PLAN=0; "$PARTCTL" --policies "$WORK/policy.toml" plan >/dev/null 2>&1 || PLAN=$?
echo "plan afterwards exit:  $PLAN (0 = empty)"
