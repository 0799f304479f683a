#!/usr/bin/env bash
# The operational store's tests against a real PostgreSQL: a throwaway cluster on a free port, trust auth, removed
# afterwards. Installs the Debian `postgresql` package when it is missing (root, apt). Runs the workflow tests that
# `ci/test.sh` already built (same features, no second build), each on a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    else
        echo "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)" >&2
        exit 1
    fi
fi
dir=$(mktemp -d /tmp/cobro-pg.XXXXXX)
port=${COBRO_PG_PORT:-55432}
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() { run "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
run "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
run "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w start >/dev/null
export COBRO_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port"
cargo test --workspace --locked --lib -- \
    paid_credited_unknown_and_foreign two_writers_on_one_invoice no_sequence_of_commands_breaks_the_store \
    two_workers_deliver_each_message_once
