#!/usr/bin/env bash
# ASGI benchmark: the same FastAPI app (benches/asgi/app.py) on Tandem
# (`tandem run --asgi`, and mounted with asgi() in a TypeScript router),
# uvicorn with uvloop and httptools, and granian in ASGI mode, one after
# another in one run on this machine, each with the same number of worker
# processes. wrk loads the plain route (/) and the JSON route
# (/json/42?q=x) at 1, 16 and 64 connections. Prints requests/s and p99 per
# row and Tandem's ratio to each peer.
#
#   benches/asgi/run.sh
#   DURATION=10s PROCESS_COUNTS="1 2" benches/asgi/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-5s}
PROCESS_COUNTS=${PROCESS_COUNTS:-1}
CONNECTIONS=${CONNECTIONS:-"1 16 64"}
PORT=${BENCH_PORT:-3938}

scripts/setup.sh
source benches/common.sh
[ -x target/release/tandem ] || cargo build --release -p tandem
export VIRTUAL_ENV=$ROOT/.venv PATH=$ROOT/.venv/bin:$PATH

# command NAME PROCESSES
command_for() {
  case $1 in
    tandem) echo "target/release/tandem run --asgi --port $PORT --processes $2 benches/asgi/app.py" ;;
    tandem-mounted) echo "target/release/tandem run --port $PORT --processes $2 benches/asgi/mounted.ts" ;;
    uvicorn) echo "uvicorn --app-dir benches/asgi --workers $2 --loop uvloop --http httptools --port $PORT --log-level warning --no-access-log app:app" ;;
    granian) echo "granian --interface asgi --working-dir benches/asgi --workers $2 --port $PORT --log-level warning --no-access-log app:app" ;;
  esac
}
read -ra ORDER <<<"${SERVERS:-tandem tandem-mounted uvicorn granian}"
ROUTES=(/ "/json/42?q=x")

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%F); wrk $DURATION per row after a 2 s warm-up"
printf '%-15s %5s %-14s %5s %10s %9s\n' server procs route conns "req/s" "p99 ms"
declare -A RESULT
for processes in $PROCESS_COUNTS; do
  for name in "${ORDER[@]}"; do
    setsid $(command_for "$name" "$processes") >/dev/null 2>&1 &
    pid=$!
    wait_for "http://127.0.0.1:$PORT/" "$name"
    for route in "${ROUTES[@]}"; do
      for c in $CONNECTIONS; do
        threads=$((c < 2 ? 1 : 2))
        wrk -t"$threads" -c"$c" -d2s "http://127.0.0.1:$PORT$route" >/dev/null
        measure -t"$threads" -c"$c" -d"$DURATION" "http://127.0.0.1:$PORT$route"
        [ -n "$INVALID" ] || RESULT[$name,$processes,$route,$c]=$RPS
        printf '%-15s %5s %-14s %5s %10.0f %9.2f %s\n' "$name" "$processes" "$route" "$c" "${RPS:-0}" "${P99:-0}" "$(row_note)"
      done
    done
    stop "$pid"
  done
done

echo
echo "Tandem's (--asgi) requests/s ratio to each peer:"
for processes in $PROCESS_COUNTS; do
  for route in "${ROUTES[@]}"; do
    for c in $CONNECTIONS; do
      line="  $processes proc, $route, $c conns:"
      for name in "${ORDER[@]}"; do
        [ "$name" = tandem ] && continue
        ours=${RESULT[tandem,$processes,$route,$c]:-} theirs=${RESULT[$name,$processes,$route,$c]:-}
        if [ -z "$ours" ] || [ -z "$theirs" ]; then
          line="$line $name (invalid run)"
          continue
        fi
        line="$line $name $(echo "$ours $theirs" | awk '{printf "%.2f", $1 / $2}')x"
      done
      echo "$line"
    done
  done
done
