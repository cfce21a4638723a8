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
# Usage: bash bench/convert_load.sh            (ROWS=2000000 BATCH=50000 SECS=120)
#        PARTCTL=target/debug/partctl ROWS=200000 SECS=40 bash bench/convert_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-2000000}
BATCH=${BATCH:-50000}
SECS=${SECS:-120}

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -1)
[ -x "$PGBIN/initdb" ] || PGBIN=$(pg_config --bindir)
if [ -z "${PARTCTL:-}" ]; then
    cargo build --quiet --release
    PARTCTL=$PWD/target/release/partctl
fi

WORK=$(mktemp -d /tmp/partctl-convert.XXXXXX)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
    chown nobody "$WORK"
    AS=(runuser -u nobody --)
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" stop -m fast >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap stop EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
    -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50" start >/dev/null
export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
PSQL=("$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 -At "$DATABASE_URL")

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
"$PARTCTL" --policies "$WORK/policy.toml" --table public.ev convert 2> "$WORK/convert.err" > "$WORK/convert.out" || {
    echo "convert failed:"; cat "$WORK/convert.err"; }
T1=$(date +%s.%N)
wait $PGB || true

echo "== results"
cat "$WORK/convert.out"
echo "convert seconds:      $(python3 -c "print(round($T1 - $T0, 2))")"
grep -E "number of (transactions actually processed|failed transactions)|latency average|aborted" "$WORK/pgbench.out" || true
# pgbench --log: client_id transaction_no time(us) script_no time_epoch time_us
echo "largest latency (ms): $(cat "$WORK"/pgb.* | awk 'BEGIN{m=0} {if ($3>m) m=$3} END{printf "%.1f", m/1000}')"
C=$(SUM ev_control); P=$(SUM ev); U=$(SUM ev_unpartitioned)
echo "control:          $C"
echo "ev (partitioned): $P"
echo "ev_unpartitioned: $U"
[ "$C" = "$P" ] && [ "$C" = "$U" ] && echo "checksums: equal" || echo "checksums: MISMATCH"
PLAN=0; "$PARTCTL" --policies "$WORK/policy.toml" plan >/dev/null 2>&1 || PLAN=$?
echo "plan afterwards exit: $PLAN (0 = empty)"
