#!/usr/bin/env bash
# Scale benchmark (issue 11). Not run in CI.
#
# Starts a throwaway PostgreSQL and a throwaway MariaDB in a temp directory on free loopback
# ports (like scripts/quickstart.sh and bench/maria_drain_load.sh), installing
# postgresql-15-partman with apt-get first when it is missing and this runs as root, then:
#
#   PostgreSQL, database `bench`: TABLES tables (default 200) x PARTS daily partitions (92)
#     and a DEFAULT each, made by pg_partman's create_parent (premake 4), so that partctl
#     (premake 4, a policy per table) and pg_partman manage the same tables.
#   PostgreSQL, database `big`: BIG_TABLES tables (1,000) x BIG_PARTS partitions (100) and a
#     DEFAULT each: the scale point.
#   MariaDB, database `bench`: MY_TABLES tables (50) x MY_PARTS daily partitions (92) and a
#     MAXVALUE catch-all each.
#
# Then it times, RUNS times each (default 11; the apply group APPLY_RUNS times, default 21; the MariaDB group MY_RUNS times, default 21) after one warm-up round, and prints the medians
# (the measurements of a group run interleaved, round by round, so that a slow moment of a
# shared machine falls on all of them alike):
#   - partctl no-op `plan` (exit 0 expected), warm (its bound cache, in $WORK/cache, filled by the
#     warm-up round: the steady state of a cron job) and cold (--no-cache), against the catalog floor (one psql round trip
#     reading every partition bound of the managed tables), the same query without the bounds
#     (names only: what the server spends deparsing bounds with pg_get_expr) and pg_partman's
#     no-op `CALL run_maintenance_proc()`;
#   - partctl `apply` creating one partition on each table (premake 5) against psql replaying
#     the same plan's SQL (each step in BEGIN/COMMIT), against psql replaying only
#     CREATE TABLE ... (LIKE ... INCLUDING ALL) + ATTACH PARTITION, and against pg_partman
#     creating the same partitions (premake 5, run_maintenance_proc); the new partitions are
#     dropped (untimed) before every run;
#   - partctl `check` and `verify` over the same tables;
#   - peak memory (/usr/bin/time -v, maximum resident set size) of the no-op plans;
#   - the no-op plan at BIG_TABLES x BIG_PARTS;
#   - the MariaDB no-op plan against one information_schema.PARTITIONS query (mariadb client).
# Every time is the wall time of one process (start, connect, work, exit), both for partctl and
# for the psql/mariadb floors.
#
# Usage: bash bench/scale.sh
#        PARTCTL=target/release/partctl RUNS=7 BIG=0 MARIA=0 bash bench/scale.sh
# Options: RUNS, TABLES, PARTS, BIG (0: skip the scale point), BIG_TABLES, BIG_PARTS,
#          MARIA (0: skip MariaDB), MY_TABLES, MY_PARTS, MY_RUNS (rounds of the MariaDB group,
#          default 21: each run takes about 40 ms, and 5 of them scatter by a fifth),
#          APPLY_RUNS (rounds of the apply group, default 21: its runs scatter by a third on a
#          shared machine, and the ratio it decides sits near its target); RUNS went from 5 to
#          11 when four full runs of 5 rounds put the no-op plan at 0.86x to 1.13x of its
#          floor, PARTCTL (a built binary; default:
#          cargo build --release), BEFORE (another build, e.g. of an older commit: timed in the
#          same rounds, for before/after figures), KEEP=1 (leave the servers running and print
#          their URLs; stop them with the printed command).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-11}
TABLES=${TABLES:-200}
PARTS=${PARTS:-92}
BIG=${BIG:-1}
BIG_TABLES=${BIG_TABLES:-1000}
BIG_PARTS=${BIG_PARTS:-100}
MARIA=${MARIA:-1}
MY_TABLES=${MY_TABLES:-50}
MY_PARTS=${MY_PARTS:-92}
MY_RUNS=${MY_RUNS:-21}
APPLY_RUNS=${APPLY_RUNS:-21}
KEEP=${KEEP:-0}
BEFORE=${BEFORE:-}
PREMAKE=4

find_pg_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && pg_config --bindir
}
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "missing: $*; install with: sudo apt-get install -y $*" >&2
        exit 1
    fi
    echo "== installing $* (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
PGBIN=$(find_pg_bin || true)
[ -n "$PGBIN" ] || { apt_install postgresql; PGBIN=$(find_pg_bin); }
PGVER=$(basename "$(dirname "$PGBIN")")
PGSHARE=$("$PGBIN/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$PGVER")
ls "$PGSHARE"/extension/pg_partman.control >/dev/null 2>&1 || apt_install "postgresql-$PGVER-partman"
if [ "$MARIA" = 1 ] && ! command -v mariadbd >/dev/null 2>&1; then
    apt_install mariadb-server
fi
command -v /usr/bin/time >/dev/null 2>&1 || apt_install time

if [ -z "${PARTCTL:-}" ]; then
    cargo build --quiet --release
    PARTCTL=$PWD/target/release/partctl
fi

WORK=$(mktemp -d /tmp/partctl-scale.XXXXXX)
chmod 755 "$WORK"
AS=()
MYUSER=()
if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    chown nobody "$WORK"
    AS=(runuser -u nobody --)
    MYUSER=(--user=root)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MYPORT=$(free_port)
MYSRV=
stop() {
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" stop -m fast >/dev/null 2>&1 || true
    if [ -n "$MYSRV" ]; then kill "$MYSRV" 2>/dev/null; wait "$MYSRV" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
if [ "$KEEP" = 1 ]; then
    trap 'echo "servers kept; stop them with: ${AS[*]} $PGBIN/pg_ctl -D $WORK/data stop; kill $MYSRV; rm -rf $WORK"' EXIT
else
    trap stop EXIT
fi

echo "== PostgreSQL $PGVER on 127.0.0.1:$PORT ($WORK)"
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -o "-p $PORT -k $WORK \
    -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=UTC -c max_locks_per_transaction=512 \
    -c shared_buffers=256MB" start >/dev/null
BASE="postgres://postgres@127.0.0.1:$PORT"
psql_() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
psql_ "$BASE/postgres" -c "CREATE DATABASE bench" -c "CREATE DATABASE big"
PG="$BASE/bench"
PGBIG="$BASE/big"

TODAY=$(date -u +%F)
day() { date -u -d "$TODAY $1 days" +%F; }
FIRST=$(day $((PREMAKE + 1 - PARTS)))   # PARTS partitions: FIRST .. today + PREMAKE
NEXT=$(day $((PREMAKE + 1)))            # what premake 5 creates

policies() { # file prefix count premake
    local i
    : > "$1"
    for i in $(seq -w 1 "$3"); do
        printf '[[table]]\nname = "public.%s_%s"\npartition_by = "range"\ncolumn = "ts"\ninterval = "1 day"\npremake = %s\ntimezone = "UTC"\ndefault_partition = true\n\n' \
            "$2" "$i" "$4" >> "$1"
    done
    chmod 644 "$1"
}

echo "== bench: $TABLES tables x $PARTS daily partitions + DEFAULT, by pg_partman $(
    psql_ "$PG" -c "CREATE SCHEMA partman" -c "CREATE EXTENSION pg_partman SCHEMA partman" \
        -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'")"
PARTMAN_MAJOR=$(psql_ "$PG" -c "SELECT split_part(extversion, '.', 1) FROM pg_extension WHERE extname = 'pg_partman'")
T0=$(date +%s)
for i in $(seq -w 1 "$TABLES"); do
    echo "CREATE TABLE public.ev_$i (id bigint NOT NULL, ts timestamptz NOT NULL, payload text) PARTITION BY RANGE (ts);"
    if [ "$PARTMAN_MAJOR" -ge 5 ]; then
        echo "SELECT partman.create_parent('public.ev_$i', 'ts', '1 day', p_premake := $PREMAKE, p_start_partition := '$FIRST');"
    else
        echo "SELECT partman.create_parent('public.ev_$i', 'ts', 'native', 'daily', p_premake := $PREMAKE, p_start_partition := '$FIRST');"
    fi
done | psql_ "$PG" >/dev/null
psql_ "$PG" -c "VACUUM ANALYZE"
echo "set-up: $(($(date +%s) - T0)) s; $(psql_ "$PG" -c "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent WHERE c.relname LIKE 'ev\_%'") partitions"
policies "$WORK/pg.toml" ev "$TABLES" "$PREMAKE"
policies "$WORK/pg5.toml" ev "$TABLES" $((PREMAKE + 1))

# The catalog floor: one round trip reading every partition bound of the managed tables.
floor_sql() { # prefix count
    echo "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, 0)
  FROM pg_class p JOIN pg_namespace n ON n.oid = p.relnamespace
  JOIN pg_inherits i ON i.inhparent = p.oid JOIN pg_class c ON c.oid = i.inhrelid
 WHERE n.nspname = 'public'
   AND p.relname = ANY (array(SELECT format('$1_%s', lpad(g::text, ${#2}, '0')) FROM generate_series(1, $2) g))"
}
FLOOR=$(floor_sql ev "$TABLES")
# The same without deparsing the bounds (pg_get_expr): how much of the floor is the deparse.
FLOOR_NAMES=$(floor_sql ev "$TABLES" | sed 's/, pg_get_expr(c.relpartbound, 0)//')
# Drop what premake 5 created (untimed, before every run that creates).
RESET="DO \$\$ DECLARE r record; BEGIN
  FOR r IN SELECT c.oid::regclass AS part FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE pg_get_expr(c.relpartbound, 0) LIKE 'FOR VALUES FROM (''$NEXT%' LOOP
    EXECUTE format('DROP TABLE %s', r.part);
  END LOOP;
  UPDATE partman.part_config SET premake = $PREMAKE;
END \$\$"
# Then vacuum the catalogs those 200 tables were created in and dropped from, so that every
# round starts alike (without it, each round's catalog read scans the dead rows of all the
# rounds before it, which autovacuum would have removed between two cron runs).
reset_pg() {
    psql_ "$PG" -c "$RESET" \
        -c "VACUUM pg_class, pg_attribute, pg_type, pg_depend, pg_inherits, pg_constraint, pg_index, pg_shdepend"
}
partman_premake5() { reset_pg; psql_ "$PG" -c "UPDATE partman.part_config SET premake = $((PREMAKE + 1))"; }

declare -A MED
# Each measurement's times, round by round (nanoseconds), for `paired`.
declare -A ROUNDS
# A group of measurements, run interleaved so that a slow moment of a shared machine falls on
# every measurement of the group alike: one warm-up round, then RUNS rounds, each running every
# measurement once (its PREPARE untimed first; `:` for none). Records each median in seconds.
G_NAMES=(); G_PREPS=(); G_CMDS=()
add() { # NAME PREPARE CMD...
    G_NAMES+=("$1"); G_PREPS+=("$2"); shift 2
    G_CMDS+=("$(printf '%q ' "$@")")
}
run_group() { # [ROUNDS, default RUNS]
    local k i t0 t1 rc
    declare -A times=()
    for k in $(seq 0 "${1:-$RUNS}"); do
        for i in "${!G_NAMES[@]}"; do
            ${G_PREPS[$i]}
            t0=$(date +%s%N)
            rc=0
            eval "${G_CMDS[$i]}" >/dev/null || rc=$?
            t1=$(date +%s%N)
            # plan: 2 = changes pending; anything else is a failure.
            if [ "$rc" != 0 ] && [ "$rc" != 2 ]; then echo "${G_NAMES[$i]}: exit $rc" >&2; exit 1; fi
            [ "$k" = 0 ] || times[$i]="${times[$i]:-} $((t1 - t0))"
        done
    done
    for i in "${!G_NAMES[@]}"; do
        ROUNDS[${G_NAMES[$i]}]=${times[$i]}
        MED[${G_NAMES[$i]}]=$(printf '%s\n' ${times[$i]} | sort -n | awk '{a[NR]=$1} END {printf "%.4f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) / 1e9}')
        printf '%-48s median %8.4f s   runs: %s\n' "${G_NAMES[$i]}" "${MED[${G_NAMES[$i]}]}" \
            "$(printf '%s\n' ${times[$i]} | awk '{printf "%.3f ", $1 / 1e9}')"
    done
    G_NAMES=(); G_PREPS=(); G_CMDS=()
}
peak_mb() { # peak resident set of a command, MB
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
# The median of A's time over B's, round by round: the two ran in the same round, so a slow
# moment of the machine weighs on both (the ratio of the medians mixes rounds).
paired() { # NAME_A NAME_B
    paste -d ' ' <(printf '%s\n' ${ROUNDS[$1]}) <(printf '%s\n' ${ROUNDS[$2]}) |
        awk '{print $1 / $2}' | sort -g |
        awk '{a[NR]=$1} END {printf "%.2fx", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'
}

export DATABASE_URL="$PG"
# The bound cache of plan, check, show and apply: the warm-up round fills it (apply confirms
# from the server every bound that decides a removal).
export PARTCTL_CACHE_DIR="$WORK/cache"
# The other build keeps its own bound cache: builds whose cache formats differ would otherwise
# overwrite each other's file every round, and both would read every bound cold.
if [ -n "$BEFORE" ]; then
    printf '#!/bin/sh\nPARTCTL_CACHE_DIR=%q exec %q "$@"\n' "$WORK/cache-before" "$BEFORE" > "$WORK/before.sh"
    chmod 755 "$WORK/before.sh"
    BEFORE="$WORK/before.sh"
fi
"$PARTCTL" -p "$WORK/pg.toml" plan >/dev/null || { echo "the no-op plan is not empty (exit $?)" >&2; exit 1; }

echo "== PostgreSQL no-op: $TABLES tables"
add "partctl plan (no-op)" : "$PARTCTL" -p "$WORK/pg.toml" plan
add "partctl plan (no-op), cold (--no-cache)" : "$PARTCTL" -p "$WORK/pg.toml" --no-cache plan
add "catalog floor (psql, one round trip)" : psql_ "$PG" -c "$FLOOR"
add "catalog floor without the bounds (names only)" : psql_ "$PG" -c "$FLOOR_NAMES"
add "pg_partman run_maintenance_proc (no-op)" : psql_ "$PG" -c "CALL partman.run_maintenance_proc()"
add "partctl check" : "$PARTCTL" -p "$WORK/pg.toml" check
add "partctl verify" : "$PARTCTL" -p "$WORK/pg.toml" verify
if [ -n "$BEFORE" ]; then
    add "before: partctl plan (no-op)" : "$BEFORE" -p "$WORK/pg.toml" plan
    add "before: partctl check" : "$BEFORE" -p "$WORK/pg.toml" check
    add "before: partctl verify" : "$BEFORE" -p "$WORK/pg.toml" verify
fi
run_group
MEM18=$(peak_mb "$PARTCTL" -p "$WORK/pg.toml" plan)
[ -z "$BEFORE" ] || MEM18B=$(peak_mb "$BEFORE" -p "$WORK/pg.toml" plan)

echo "== PostgreSQL: one partition on each of $TABLES tables"
# The same statements as partctl's plan, replayed by psql, each step in its own transaction.
"$PARTCTL" -p "$WORK/pg5.toml" plan -f json > "$WORK/plan.json" || true
python3 - "$WORK/plan.json" > "$WORK/replay.sql" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
    print("BEGIN;")
    for q in s["sql"]:
        print(q.rstrip().rstrip(";") + ";")
    print("COMMIT;")
PY
python3 - "$WORK/plan.json" > "$WORK/replay_min.sql" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
    for q in s["sql"]:
        if q.startswith("CREATE TABLE") or " ATTACH PARTITION " in q:
            print(q.rstrip().rstrip(";") + ";")
PY
chmod 644 "$WORK"/*.sql "$WORK/plan.json"
echo "steps: $(grep -c '^BEGIN;' "$WORK/replay.sql")"
add "partctl apply (1 partition x $TABLES)" reset_pg "$PARTCTL" -p "$WORK/pg5.toml" -q apply
add "psql replay of the plan's SQL" reset_pg psql_ "$PG" -f "$WORK/replay.sql"
add "psql replay: CREATE LIKE + ATTACH only" reset_pg psql_ "$PG" -f "$WORK/replay_min.sql"
add "pg_partman creating the same partitions" partman_premake5 psql_ "$PG" -c "CALL partman.run_maintenance_proc()"
[ -z "$BEFORE" ] || add "before: partctl apply (1 partition x $TABLES)" reset_pg "$BEFORE" -p "$WORK/pg5.toml" -q apply
run_group "$APPLY_RUNS"
reset_pg

if [ "$BIG" = 1 ]; then
    echo "== big: $BIG_TABLES tables x $BIG_PARTS daily partitions + DEFAULT"
    T0=$(date +%s)
    BFIRST=$(day $((PREMAKE + 1 - BIG_PARTS)))
    psql_ "$PGBIG" -c "DO \$\$ BEGIN
      FOR t IN 1..$BIG_TABLES LOOP
        EXECUTE format('CREATE TABLE public.big_%s (id bigint NOT NULL, ts timestamptz NOT NULL, payload text) PARTITION BY RANGE (ts)', lpad(t::text, ${#BIG_TABLES}, '0'));
        EXECUTE format('CREATE TABLE public.big_%s_default PARTITION OF public.big_%1\$s DEFAULT', lpad(t::text, ${#BIG_TABLES}, '0'));
        FOR d IN 0..$((BIG_PARTS - 1)) LOOP
          EXECUTE format('CREATE TABLE public.big_%1\$s_p%2\$s PARTITION OF public.big_%1\$s FOR VALUES FROM (%3\$L) TO (%4\$L)',
            lpad(t::text, ${#BIG_TABLES}, '0'), to_char(date '$BFIRST' + d, 'YYYYMMDD'), date '$BFIRST' + d, date '$BFIRST' + d + 1);
        END LOOP;
        COMMIT;
      END LOOP; END \$\$"
    psql_ "$PGBIG" -c "VACUUM ANALYZE"
    echo "set-up: $(($(date +%s) - T0)) s"
    policies "$WORK/big.toml" big "$BIG_TABLES" "$PREMAKE"
    DATABASE_URL="$PGBIG" "$PARTCTL" -p "$WORK/big.toml" plan >/dev/null || { echo "big: the no-op plan is not empty" >&2; exit 1; }
    add "partctl plan (no-op), $((BIG_TABLES * BIG_PARTS)) partitions" : env DATABASE_URL="$PGBIG" "$PARTCTL" -p "$WORK/big.toml" plan
    add "partctl plan (no-op), cold, $((BIG_TABLES * BIG_PARTS)) partitions" : env DATABASE_URL="$PGBIG" "$PARTCTL" -p "$WORK/big.toml" --no-cache plan
    add "catalog floor, $((BIG_TABLES * BIG_PARTS)) partitions" : psql_ "$PGBIG" -c "$(floor_sql big "$BIG_TABLES")"
    [ -z "$BEFORE" ] || add "before: partctl plan (no-op), $((BIG_TABLES * BIG_PARTS)) partitions" : env DATABASE_URL="$PGBIG" "$BEFORE" -p "$WORK/big.toml" plan
    run_group
    MEM100=$(DATABASE_URL="$PGBIG" peak_mb "$PARTCTL" -p "$WORK/big.toml" plan)
    [ -z "$BEFORE" ] || MEM100B=$(DATABASE_URL="$PGBIG" peak_mb "$BEFORE" -p "$WORK/big.toml" plan)
fi

if [ "$MARIA" = 1 ]; then
    echo "== MariaDB: $MY_TABLES tables x $MY_PARTS daily partitions + MAXVALUE"
    mariadb-install-db --no-defaults --datadir="$WORK/mdata" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve "${MYUSER[@]}" > "$WORK/minstall.log" 2>&1
    mariadbd --no-defaults --datadir="$WORK/mdata" --socket="$WORK/mysqld.sock" \
        --pid-file="$WORK/mysqld.pid" --log-error="$WORK/merror.log" --tmpdir="$WORK" --port="$MYPORT" \
        --bind-address=127.0.0.1 --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=256M \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-use-native-aio=0 \
        --default-time-zone=+00:00 "${MYUSER[@]}" > "$WORK/mserver.out" 2>&1 &
    MYSRV=$!
    MY=(mariadb --no-defaults -h 127.0.0.1 -P "$MYPORT" -u root -N -B)
    for _ in $(seq 1 300); do "${MY[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
    "${MY[@]}" -e "CREATE DATABASE bench"
    for i in $(seq -w 1 "$MY_TABLES"); do
        printf 'CREATE TABLE bench.ev_%s (id BIGINT NOT NULL, ts DATETIME NOT NULL, PRIMARY KEY (id, ts)) PARTITION BY RANGE COLUMNS(ts) (' "$i"
        for d in $(seq 0 $((MY_PARTS - 1))); do
            printf "PARTITION p%s VALUES LESS THAN ('%s'), " "$(day $((PREMAKE + 1 - MY_PARTS + d)) | tr -d -)" "$(day $((PREMAKE + 2 - MY_PARTS + d)))"
        done
        printf 'PARTITION pmax VALUES LESS THAN (MAXVALUE));\n'
    done | "${MY[@]}"
    : > "$WORK/my.toml"
    for i in $(seq -w 1 "$MY_TABLES"); do
        printf '[[table]]\nname = "bench.ev_%s"\npartition_by = "range"\ncolumn = "ts"\ninterval = "1 day"\npremake = %s\ntimezone = "UTC"\ndefault_partition = true\n\n' "$i" "$PREMAKE" >> "$WORK/my.toml"
    done
    MYURL="mysql://root@127.0.0.1:$MYPORT/bench"
    DATABASE_URL="$MYURL" "$PARTCTL" -p "$WORK/my.toml" plan >/dev/null || { echo "MariaDB: the no-op plan is not empty" >&2; exit 1; }
    add "MariaDB partctl plan (no-op)" : "$PARTCTL" -d "$MYURL" -p "$WORK/my.toml" plan
    add "MariaDB floor (one information_schema query)" : "${MY[@]}" -e \
        "SELECT TABLE_NAME, PARTITION_NAME, PARTITION_DESCRIPTION, TABLE_ROWS FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = 'bench'"
    [ -z "$BEFORE" ] || add "before: MariaDB partctl plan (no-op)" : "$BEFORE" -d "$MYURL" -p "$WORK/my.toml" plan
    run_group "$MY_RUNS"
fi

echo
echo "== summary ($(date -u +%F), $(nproc) cores, $("$PGBIN/postgres" --version), partctl $("$PARTCTL" --version 2>/dev/null | awk '{print $2}'))"
m() { echo "${MED[$1]}"; }
echo "no-op plan / catalog floor:              $(ratio "$(m "partctl plan (no-op)")" "$(m "catalog floor (psql, one round trip)")")"
echo "cold no-op plan / catalog floor:         $(ratio "$(m "partctl plan (no-op), cold (--no-cache)")" "$(m "catalog floor (psql, one round trip)")")"
echo "floor without bounds / floor:            $(ratio "$(m "catalog floor without the bounds (names only)")" "$(m "catalog floor (psql, one round trip)")")"
echo "pg_partman no-op / no-op plan:           $(ratio "$(m "pg_partman run_maintenance_proc (no-op)")" "$(m "partctl plan (no-op)")")"
echo "apply / psql replay of the plan's SQL:   $(ratio "$(m "partctl apply (1 partition x $TABLES)")" "$(m "psql replay of the plan's SQL")")"
echo "apply / CREATE LIKE + ATTACH replay:     $(ratio "$(m "partctl apply (1 partition x $TABLES)")" "$(m "psql replay: CREATE LIKE + ATTACH only")") (round by round: $(paired "partctl apply (1 partition x $TABLES)" "psql replay: CREATE LIKE + ATTACH only"))"
echo "apply / (replay + catalog floor):        $(ratio "$(m "partctl apply (1 partition x $TABLES)")" "$(awk -v a="$(m "psql replay of the plan's SQL")" -v b="$(m "catalog floor (psql, one round trip)")" 'BEGIN {print a + b}')")"
echo "pg_partman create / apply:               $(ratio "$(m "pg_partman creating the same partitions")" "$(m "partctl apply (1 partition x $TABLES)")")"
echo "peak memory, no-op plan, $((TABLES * PARTS)) partitions: $MEM18 MB${MEM18B:+ (before: $MEM18B MB)}"
echo "check / no-op plan:                      $(ratio "$(m "partctl check")" "$(m "partctl plan (no-op)")")"
echo "verify / no-op plan:                     $(ratio "$(m "partctl verify")" "$(m "partctl plan (no-op)")")"
if [ -n "$BEFORE" ]; then
    for w in "partctl plan (no-op)" "partctl check" "partctl verify" "partctl apply (1 partition x $TABLES)"; do
        printf '%-40s before %s s, after %s s: %s faster\n' "$w" "$(m "before: $w")" "$(m "$w")" "$(ratio "$(m "before: $w")" "$(m "$w")")"
    done
fi
if [ "$BIG" = 1 ]; then
    B="partctl plan (no-op), $((BIG_TABLES * BIG_PARTS)) partitions"
    echo "no-op plan at $((BIG_TABLES * BIG_PARTS)) / at $((TABLES * PARTS)) partitions: $(ratio "$(m "$B")" "$(m "partctl plan (no-op)")") (partitions: $(ratio $((BIG_TABLES * BIG_PARTS)) $((TABLES * PARTS))))"
    echo "no-op plan / catalog floor at $((BIG_TABLES * BIG_PARTS)):  $(ratio "$(m "$B")" "$(m "catalog floor, $((BIG_TABLES * BIG_PARTS)) partitions")")"
    echo "cold no-op plan / floor at $((BIG_TABLES * BIG_PARTS)):     $(ratio "$(m "partctl plan (no-op), cold, $((BIG_TABLES * BIG_PARTS)) partitions")" "$(m "catalog floor, $((BIG_TABLES * BIG_PARTS)) partitions")")"
    echo "peak memory, no-op plan, $((BIG_TABLES * BIG_PARTS)) partitions: $MEM100 MB${MEM100B:+ (before: $MEM100B MB)}"
    [ -z "$BEFORE" ] || echo "before, no-op plan at $((BIG_TABLES * BIG_PARTS)): $(m "before: $B") s"
fi
if [ "$MARIA" = 1 ]; then
    echo "MariaDB no-op plan / floor:              $(ratio "$(m "MariaDB partctl plan (no-op)")" "$(m "MariaDB floor (one information_schema query)")")"
    [ -z "$BEFORE" ] || echo "before, MariaDB no-op plan / floor:      $(ratio "$(m "before: MariaDB partctl plan (no-op)")" "$(m "MariaDB floor (one information_schema query)")")"
fi
