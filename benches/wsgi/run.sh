#!/usr/bin/env bash
# WSGI benchmark: the same Flask app (benches/wsgi/app.py) on Tandem
# (`tandem run --wsgi`), gunicorn with sync and with gthread workers, and
# granian in WSGI mode, one after another in one run on this machine. Each
# server runs with 1 worker process and with one per core; wrk loads the
# plain route (/) and the JSON route (/json) at 1 and 64 connections.
# Prints requests/s and p99 per row and Tandem's ratio to each peer, then
# the cold start of each server (cold_start.py).
#
#   benches/wsgi/run.sh
#   DURATION=10s PROCESS_COUNTS="2" benches/wsgi/run.sh
#
# Python threads: Tandem runs its default pool (--wsgi-threads 8) and
# gthread gets the same 8 threads per worker; granian keeps its defaults.
# tandem-mounted is the same app behind `router.all("/*", wsgi(app))` in a
# TypeScript server (benches/wsgi/mounted.ts), one isolate per process.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-5s}
PROCESS_COUNTS=${PROCESS_COUNTS:-"1 $(nproc)"}
CONNECTIONS=${CONNECTIONS:-"1 64"}
PORT=${BENCH_PORT:-3937}

scripts/setup.sh
source benches/common.sh
.venv/bin/python -c "import flask, gunicorn, granian" 2>/dev/null ||
  .venv/bin/pip install -q --disable-pip-version-check -r benches/ml/requirements.txt
[ -x target/release/tandem ] || cargo build --release -p tandem
export VIRTUAL_ENV=$ROOT/.venv PATH=$ROOT/.venv/bin:$PATH

# command NAME PROCESSES
command_for() {
  case $1 in
    tandem) echo "target/release/tandem run --wsgi --port $PORT --processes $2 benches/wsgi/app.py" ;;
    tandem-mounted) echo "target/release/tandem run --port $PORT --processes $2 --workers 1 benches/wsgi/mounted.ts" ;;
    gunicorn-sync) echo "gunicorn --chdir benches/wsgi -w $2 -b 127.0.0.1:$PORT --log-level warning app:app" ;;
    gunicorn-gthread) echo "gunicorn --chdir benches/wsgi -w $2 -k gthread --threads 8 -b 127.0.0.1:$PORT --log-level warning app:app" ;;
    granian) echo "granian --interface wsgi --working-dir benches/wsgi --workers $2 --port $PORT --log-level warning --no-access-log app:app" ;;
  esac
}
read -ra ORDER <<<"${SERVERS:-tandem tandem-mounted gunicorn-sync gunicorn-gthread granian}"

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%F); wrk $DURATION per row after a 2 s warm-up"
printf '%-17s %5s %-6s %5s %10s %9s\n' server procs route conns "req/s" "p99 ms"
declare -A RESULT
for processes in $PROCESS_COUNTS; do
  for name in "${ORDER[@]}"; do
    setsid $(command_for "$name" "$processes") >/dev/null 2>&1 &
    pid=$!
    wait_for "http://127.0.0.1:$PORT/" "$name"
    for route in / /json; do
      for c in $CONNECTIONS; do
        threads=$((c < 2 ? 1 : 2))
        wrk -t"$threads" -c"$c" -d2s "http://127.0.0.1:$PORT$route" >/dev/null
        measure -t"$threads" -c"$c" -d"$DURATION" "http://127.0.0.1:$PORT$route"
        # A row with errors gets no result, so no ratio.
        [ -n "$INVALID" ] || RESULT[$name,$processes,$route,$c]=$RPS
        printf '%-17s %5s %-6s %5s %10.0f %9.2f %s\n' "$name" "$processes" "$route" "$c" "${RPS:-0}" "${P99:-0}" "$(row_note)"
      done
    done
    stop "$pid"
  done
done

echo
echo "Tandem's requests/s ratio to each peer:"
for processes in $PROCESS_COUNTS; do
  for route in / /json; do
    for c in $CONNECTIONS; do
      line="  $processes proc, $route, $c conns:"
      for name in "${ORDER[@]}"; do
        [ "$name" = tandem ] && continue
        ours=${RESULT[tandem,$processes,$route,$c]:-} theirs=${RESULT[$name,$processes,$route,$c]:-}
        if [ -z "$ours" ] || [ -z "$theirs" ]; then
          line="$line $name (invalid run)"
          continue
        fi
        ratio=$(echo "$ours $theirs" | awk '{printf "%.2f", $1 / $2}')
        line="$line $name ${ratio}x"
      done
      echo "$line"
    done
  done
done

echo
.venv/bin/python benches/wsgi/cold_start.py
