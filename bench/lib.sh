# Shared by the load benchmarks (sourced, not run): a built partctl and load generator, and a
# throwaway PostgreSQL or MariaDB in a temp directory on a free loopback port, stopped on exit
# and its directory removed (kept, and its path printed, with KEEP=1).
#
#   need_partctl            PARTCTL, built in release unless given
#   need_loadgen            LOADGEN (bench/maria_load.rs), built in release unless given
#   start_pg NAME [OPTS]    WORK, PORT, PGBIN, AS, DATABASE_URL (database postgres), PSQL;
#                           OPTS: more server options (`-c name=value ...`)
#   start_maria NAME        WORK, PORT, SRV, SQL (the mariadb client as root); prints the
#                           server's version; DATABASE_URL names the database `bench`
#   pgbench_load SECS       4 pgbench clients for SECS s in the background (PGB): reads of
#                           `ev` by id (no pruning) and inserts into the current period
#   pgbench_report          its transaction counts, failures and the largest latency (ms)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

need_partctl() {
    if [ -z "${PARTCTL:-}" ]; then
        cargo build --quiet --release
        PARTCTL=$PWD/target/release/partctl
    fi
}

need_loadgen() {
    if [ -z "${LOADGEN:-}" ]; then
        cargo build --quiet --release --example maria_load
        LOADGEN=$PWD/target/release/examples/maria_load
    fi
}

remove_work() {
    if [ "${KEEP:-0}" != 0 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}

stop_pg() {
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" stop -m fast >/dev/null 2>&1 || true
    remove_work
}

start_pg() {
    local name=$1
    shift
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -1)
    [ -x "$PGBIN/initdb" ] || PGBIN=$(pg_config --bindir)
    WORK=$(mktemp -d "/tmp/partctl-$name.XXXXXX")
    chmod 755 "$WORK"
    AS=()
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$WORK"
        AS=(runuser -u nobody --)
    fi
    PORT=$(free_port)
    trap stop_pg EXIT
    "${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
        -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50 $*" \
        start >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
    PSQL=("$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 -At "$DATABASE_URL")
}

stop_maria() {
    if [ -n "${SRV:-}" ]; then kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null || true; fi
    remove_work
}

start_maria() {
    local name=$1 userarg=()
    [ "$(id -u)" = 0 ] && userarg=(--user=root)
    WORK=$(mktemp -d "/tmp/partctl-$name.XXXXXX")
    PORT=$(free_port)
    SRV=
    trap stop_maria EXIT
    mariadb-install-db --no-defaults --datadir="$WORK/data" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve "${userarg[@]}" > "$WORK/install.log" 2>&1
    mariadbd --no-defaults --datadir="$WORK/data" --socket="$WORK/mysqld.sock" \
        --pid-file="$WORK/mysqld.pid" --log-error="$WORK/error.log" --tmpdir="$WORK" --port="$PORT" \
        --bind-address=127.0.0.1 --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=512M \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-use-native-aio=0 \
        --max-connections=200 --default-time-zone=+00:00 "${userarg[@]}" > "$WORK/server.out" 2>&1 &
    SRV=$!
    SQL=(mariadb --no-defaults -h 127.0.0.1 -P "$PORT" -u root -N -B)
    for _ in $(seq 1 300); do "${SQL[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
    "${SQL[@]}" -e "SELECT CONCAT('server: ', VERSION(), ', innodb_autoinc_lock_mode ', @@innodb_autoinc_lock_mode)"
    export DATABASE_URL="mysql://root@127.0.0.1:$PORT/bench"
}

pgbench_load() {
    cat > "$WORK/read.sql" <<'SQL'
\set id random(1, 1000000)
SELECT * FROM ev WHERE id = :id;
SQL
    cat > "$WORK/write.sql" <<'SQL'
INSERT INTO ev (ts, payload) VALUES (now(), 'bench');
SQL
    echo "== pgbench: 4 clients, $1 s, reads on the parent + inserts into the current period"
    (cd "$WORK" && "$PGBIN/pgbench" -n -c 4 -j 4 -T "$1" -f read.sql -f write.sql \
        --log --log-prefix="$WORK/pgb" "$DATABASE_URL" > "$WORK/pgbench.out" 2>&1) &
    PGB=$!
}

pgbench_report() {
    grep -E "number of (transactions actually processed|failed transactions)|latency average|aborted" "$WORK/pgbench.out" || true
    # pgbench --log: client_id transaction_no time(us) script_no time_epoch time_us
    echo "largest latency (ms): $(cat "$WORK"/pgb.* | awk 'BEGIN{m=0} {if ($3>m) m=$3} END{printf "%.1f", m/1000}')$*"
}
