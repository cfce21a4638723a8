#!/usr/bin/env bash
# Reproduces MariaDB's duplicate AUTO_INCREMENT failures (ERROR 1062) during partition ALTERs,
# without partctl (issue 10, BENCHMARKS.md). A throwaway MariaDB, table `ev` with
# PRIMARY KEY (id AUTO_INCREMENT, ts), RANGE COLUMNS(ts) partitions pold and pnow; 4 clients of
# bench/maria_load.rs insert into the current period for 25 s while 20 ALTERs of one kind run:
#   MODE=add          ADD PARTITION + DROP PARTITION of a future partition (no copy)
#   MODE=reorg_hot    REORGANIZE of pnow, the partition receiving the inserts
#   MODE=reorg_empty  REORGANIZE of pold (OLD=YYYY-MM-DD moves the pold/pnow boundary)
# Prints the load generator's summary ("failed" counts the 1062s).
# Usage: MODE=reorg_hot bash bench/maria_autoinc_repro.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-add}
if [ -z "${LOADGEN:-}" ]; then
    cargo build --quiet --release --example maria_load
    LOADGEN=$PWD/target/release/examples/maria_load
fi
WORK=$(mktemp -d /tmp/ai.XXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mariadb-install-db --no-defaults --datadir="$WORK/data" --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve $( [ "$(id -u)" = 0 ] && echo --user=root) > /dev/null 2>&1
mariadbd --no-defaults --datadir="$WORK/data" --socket="$WORK/s.sock" --pid-file="$WORK/p.pid" --log-error="$WORK/error.log" --tmpdir="$WORK" --port="$PORT" --bind-address=127.0.0.1 --skip-name-resolve --skip-log-bin --innodb-flush-log-at-trx-commit=0 --default-time-zone=+00:00 $( [ "$(id -u)" = 0 ] && echo --user=root) ${EXTRA:-} > /dev/null 2>&1 &
SRV=$!
trap 'kill $SRV; wait $SRV 2>/dev/null; rm -rf $WORK' EXIT
SQL=(mariadb --no-defaults -h 127.0.0.1 -P "$PORT" -u root -N -B)
for _ in $(seq 1 300); do "${SQL[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
"${SQL[@]}" -e "SELECT @@version, @@innodb_autoinc_lock_mode"
"${SQL[@]}" <<SQL
CREATE DATABASE bench; USE bench;
CREATE TABLE ev (id BIGINT NOT NULL AUTO_INCREMENT, ts DATETIME NOT NULL, payload VARCHAR(40), PRIMARY KEY (id, ts))
 PARTITION BY RANGE COLUMNS(ts) (PARTITION pold VALUES LESS THAN ('${OLD:-2000-01-01}'), PARTITION pnow VALUES LESS THAN ('2100-01-01'));
INSERT INTO ev SELECT seq, TIMESTAMP(UTC_DATE()) - INTERVAL 30 DAY + INTERVAL (seq % 30) DAY, MD5(seq) FROM seq_1_to_100000;
SQL
"$LOADGEN" --port $PORT --db bench --table ev --clients 4 --secs 25 --max-id 100000 > $WORK/load.json 2>$WORK/load.err &
L=$!
sleep 2
for i in $(seq 1 20); do
  case $MODE in
   add) "${SQL[@]}" bench -e "ALTER TABLE ev ADD PARTITION (PARTITION pf VALUES LESS THAN ('2200-01-01'))"; "${SQL[@]}" bench -e "ALTER TABLE ev DROP PARTITION pf";;
   reorg_empty) "${SQL[@]}" bench -e "ALTER TABLE ev REORGANIZE PARTITION pold INTO (PARTITION pold VALUES LESS THAN ('${OLD:-2000-01-01}'))";;
   reorg_hot) "${SQL[@]}" bench -e "ALTER TABLE ev REORGANIZE PARTITION pnow INTO (PARTITION pnow VALUES LESS THAN ('2100-01-01'))";;
   analyze) "${SQL[@]}" bench -e "ALTER TABLE ev ANALYZE PARTITION pold";;
   flush) "${SQL[@]}" bench -e "FLUSH TABLES ev";;
  esac
  sleep 0.5
done
wait $L
echo "$MODE: $(cat $WORK/load.json)"
grep -m3 -i error $WORK/load.err || true
