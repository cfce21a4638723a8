#!/usr/bin/env bash
# Fleet benchmark (issue 12): N PostgreSQL databases reached through a local TCP relay that adds
# latency (bench/latency_relay.rs): one target 100 ms away (round trip), the others 5 ms away.
# With --jobs 8, a no-op plan and an apply creating one partition per table over the whole
# fleet are timed against the same command on the slowest target alone (target: <= 1.3x).
#
#   bash bench/fleet.sh            # 16 targets, then 32 and 128
#   SIZES="16" bash bench/fleet.sh
#   PROFILE=release bash bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"16 32 128"}
PROFILE=${PROFILE:-debug}
REPS=${REPS:-3}
JOBS=${JOBS:-8}

find_pg_bin() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir; return
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}
PGBIN=$(find_pg_bin)
[ -n "$PGBIN" ] || { echo "PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }

if [ "$PROFILE" = release ]; then
    cargo build --quiet --release --bin partctl --example latency_relay
else
    cargo build --quiet --bin partctl --example latency_relay
fi
PARTCTL=$PWD/target/$PROFILE/partctl
RELAY=$PWD/target/$PROFILE/examples/latency_relay

WORK=$(mktemp -d /tmp/partctl-fleet-bench.XXXXXX)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
    chown nobody "$WORK"
    AS=(runuser -u nobody --)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
RELAY_PID=
stop() {
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null || true
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" stop -m fast >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap stop EXIT

"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
    -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null

cat >"$WORK/policy.toml" <<'EOF'
[[table]]
name = "public.events"
partition_by = "range"
column = "d"
interval = "1 day"
premake = 2
default_partition = true
EOF

now() { date +%s.%N; }
# best of REPS runs of "$@" (seconds); the command must exit 0 or 2.
best() {
    local best=
    for _ in $(seq "$REPS"); do
        local t0 t1
        t0=$(now)
        "$@" >/dev/null 2>"$WORK/err" || [ $? = 2 ] || { cat "$WORK/err" >&2; exit 1; }
        t1=$(now)
        best=$(python3 -c "import sys; a=$t1-$t0; b='$best'; print(a if not b else min(a, float(b)))")
    done
    echo "$best"
}

MAX=0
for n in $SIZES; do [ "$n" -gt "$MAX" ] && MAX=$n; done
# The databases, each with an empty partitioned table.
for i in $(seq -w 1 "$MAX"); do
    "$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 "postgres://postgres@127.0.0.1:$PORT/postgres" \
        -c "CREATE DATABASE shard_$i" >/dev/null
    "$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 "postgres://postgres@127.0.0.1:$PORT/shard_$i" \
        -c "CREATE TABLE public.events (id bigint NOT NULL, d date NOT NULL) PARTITION BY RANGE (d)" >/dev/null
done

# The relay: target 1 100 ms away, the others 5 ms.
BASE=$(( ($(free_port) % 20000) + 30000 ))
specs=()
for i in $(seq 1 "$MAX"); do
    if [ "$i" = 1 ]; then specs+=("$((BASE + i))=100"); else specs+=("$((BASE + i))=5"); fi
done
"$RELAY" "127.0.0.1:$PORT" "${specs[@]}" &
RELAY_PID=$!
sleep 0.5

url() { printf 'postgres://postgres@127.0.0.1:%d/shard_%02d?sslmode=disable&connect_timeout=10' "$((BASE + $1))" "$1"; }
[ "$MAX" -ge 100 ] && url() { printf 'postgres://postgres@127.0.0.1:%d/shard_%03d?sslmode=disable&connect_timeout=10' "$((BASE + $1))" "$1"; }

echo "| targets | command | slowest target alone (s) | fleet, --jobs $JOBS (s) | ratio |"
echo "|---:|---|---:|---:|---:|"
day=0
for n in $SIZES; do
    : >"$WORK/targets.toml"
    for i in $(seq 1 "$n"); do
        printf '[[target]]\nname = "shard-%03d"\nurl = "%s"\n\n' "$i" "$(url "$i")" >>"$WORK/targets.toml"
    done
    at() { date -u -d "2026-11-21 + $1 days" +%Y-%m-%dT12:00:00Z; }
    fleet() { "$PARTCTL" -p "$WORK/policy.toml" --targets "$WORK/targets.toml" -j "$JOBS" -q "$@"; }
    single() { "$PARTCTL" -p "$WORK/policy.toml" -d "$(url 1)" -q "$@"; }
    # Bring every target up to date at this size's starting day.
    fleet --now "$(at $day)" apply >/dev/null
    # No-op plan.
    s=$(best single --now "$(at $day)" plan)
    f=$(best fleet --now "$(at $day)" plan)
    python3 -c "print('| $n | no-op plan | %.3f | %.3f | %.2fx |' % ($s, $f, $f/$s))"
    # An apply creating one partition per table: each repetition one day later.
    fs=
    for _ in $(seq "$REPS"); do
        day=$((day + 1))
        t0=$(now); fleet --now "$(at $day)" apply >/dev/null; t1=$(now)
        fs=$(python3 -c "a=$t1-$t0; b='$fs'; print(a if not b else min(a, float(b)))")
    done
    ss=
    for _ in $(seq "$REPS"); do
        day=$((day + 1))
        t0=$(now); single --now "$(at $day)" apply >/dev/null; t1=$(now)
        ss=$(python3 -c "a=$t1-$t0; b='$ss'; print(a if not b else min(a, float(b)))")
    done
    python3 -c "print('| $n | apply, 1 partition per table | %.3f | %.3f | %.2fx |' % ($ss, $fs, $fs/$ss))"
    # The single target ran ahead: bring the others to the same day.
    fleet --now "$(at $day)" apply >/dev/null
done
