#!/usr/bin/env bash
# partctl quickstart: start a throwaway PostgreSQL, create the example tables, run
# validate / plan / apply / show / verify / plan, and stop the server again. Nothing outside a temp
# directory is touched. Usage: bash scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."

find_pg_bin() {
    local d
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir; return
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

PGBIN=$(find_pg_bin || true)
if [ -z "$PGBIN" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "== installing PostgreSQL (apt-get install -y postgresql)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        PGBIN=$(find_pg_bin)
    else
        echo "PostgreSQL is not installed. Install it with: sudo apt-get install -y postgresql" >&2
        exit 1
    fi
fi

echo "== building partctl (cargo build --release: a few minutes the first time)"
cargo build --release
PARTCTL=$PWD/target/release/partctl

WORK=$(mktemp -d /tmp/partctl-quickstart.XXXXXX)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    chown nobody "$WORK"
    AS=(runuser -u nobody --)
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 54329)

stop() {
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" stop -m fast >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap stop EXIT

echo "== starting a throwaway PostgreSQL on 127.0.0.1:$PORT"
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
    -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
"$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 "$DATABASE_URL" -f examples/quickstart.sql

run() {
    echo
    echo "\$ partctl $*"
    set +e
    "$PARTCTL" "$@"
    local code=$?
    set -e
    echo "(exit $code)"
    return $code
}

run validate
run plan || [ $? = 2 ]           # 2: changes pending
run apply
echo
echo "== ANALYZE, so that show prints the server's row estimates"
"$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 "$DATABASE_URL" -c ANALYZE
run show
run verify                        # EXPLAIN: queries on the key still prune
run plan                          # converged: exit 0, nothing to do
echo
echo "== quickstart done: the plan after apply is empty"
