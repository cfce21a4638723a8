#!/usr/bin/env bash
# Full local/CI check: ensure PostgreSQL + MariaDB server binaries exist (the
# integration tests start throwaway servers themselves), then fmt, clippy, tests.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n== %s\n' "$*"; }

have_pg() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

have_any() { # have_any NAME... : any of the names is in PATH or an sbin dir
    local n d
    for n in "$@"; do
        command -v "$n" >/dev/null 2>&1 && return 0
        for d in /usr/sbin /sbin /usr/local/sbin; do
            [ -x "$d/$n" ] && return 0
        done
    done
    return 1
}

have_maria() {
    have_any mariadbd mysqld && have_any mariadb-install-db mysql_install_db
}

packages=()
have_pg || packages+=(postgresql)
have_maria || packages+=(mariadb-server)
# Some crates (ring) compile C code; rustup toolchains need a linker anyway.
command -v cc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
# tests/init.rs sets a table up with pg_partman (for the PostgreSQL major version installed).
pg_major=$(pg_config --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
if [ -n "$pg_major" ] && [ ! -f "$(pg_config --sharedir)/extension/pg_partman.control" ]; then
    packages+=("postgresql-$pg_major-partman")
fi
# tests/docs.rs renders the man page with groff and man.
command -v groff >/dev/null 2>&1 || packages+=(groff-base)
command -v man >/dev/null 2>&1 || packages+=(man-db)
# The PostgreSQL test server speaks TLS with a certificate the harness makes with openssl.
command -v openssl >/dev/null 2>&1 || packages+=(openssl)

if [ ${#packages[@]} -gt 0 ]; then
    cmd="apt-get install -y ${packages[*]}"
    if [ "$(id -u)" != 0 ]; then
        echo "Missing system packages. Install them with:" >&2
        echo "    sudo apt-get update && sudo $cmd" >&2
        exit 1
    fi
    log "installing ${packages[*]}"
    # Keep the packages' postinst scripts from starting system services (no
    # init system in containers, and the tests start their own servers). An
    # existing policy-rc.d is left alone.
    policy=/usr/sbin/policy-rc.d
    added_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    apt_log=$(mktemp)
    status=0
    {
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
    } >"$apt_log" 2>&1 || status=$?
    [ -n "$added_policy" ] && rm -f "$policy"
    if [ "$status" != 0 ]; then
        tail -n 40 "$apt_log" >&2
        echo "package installation failed (exit $status): $cmd" >&2
        exit "$status"
    fi
    rm -f "$apt_log"
    have_pg || { echo "PostgreSQL binaries still missing after install" >&2; exit 1; }
    have_maria || { echo "MariaDB binaries still missing after install" >&2; exit 1; }
fi

# Minimal rustup profiles lack rustfmt/clippy.
if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --quiet --all-targets -- -D warnings

log "cargo test"
test_log=$(mktemp)
status=0
# pipefail: the pipeline fails when cargo does.
cargo test --all-targets --no-fail-fast 2>&1 | tee "$test_log" || status=$?
[ "$status" = 0 ] && log "all checks passed"
# The closing line, over every test binary (the planner benchmark runs last, in smoke mode).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$test_log"
rm -f "$test_log"
exit "$status"
