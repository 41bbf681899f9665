#!/usr/bin/env bash
# Processes or threads: Tandem with one isolate thread, two isolate threads
# in one process, and two processes of one thread each, on a route that
# returns a string and on one that calls Python (a 2000-step loop), one
# after another in one run. Prints requests/s and p99 per configuration:
# the figures behind the default split of --workers and --processes
# (docs/http.md).
#
#   benches/http/split.sh            # wrk -t2 -c50 -d5s after a 2 s warm-up
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5s}
PORT=${BENCH_PORT:-3957}
scripts/setup.sh
source benches/common.sh
[ -x target/release/tandem ] || cargo build --release -p tandem
export VIRTUAL_ENV=$PWD/.venv

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%F); wrk -t2 -c50 -d$DURATION after a 2 s warm-up"
printf '%-28s %-8s %10s %9s\n' configuration route "req/s" "p99 ms"
for config in "--workers 1" "--workers 2" "--processes 2 --workers 1"; do
  setsid target/release/tandem run --port "$PORT" $config benches/http/split_app.ts >/dev/null 2>&1 &
  pid=$!
  wait_for "http://127.0.0.1:$PORT/" "$config"
  for route in / /python; do
    wrk -t2 -c50 -d2s "http://127.0.0.1:$PORT$route" >/dev/null
    measure -t2 -c50 -d"$DURATION" "http://127.0.0.1:$PORT$route"
    printf '%-28s %-8s %10.0f %9.2f %s\n' "$config" "$route" "${RPS:-0}" "${P99:-0}" "$(row_note)"
  done
  stop "$pid"
done
