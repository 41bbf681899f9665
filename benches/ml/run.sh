#!/usr/bin/env bash
# ML API benchmark: POST /api/sentiment (the same scikit-learn model, the
# same module loading it) on Tandem and its peers, one after another in one
# run on this machine, each with PROCESSES worker processes, loaded by wrk
# at 1, 16 and 64 connections. Prints requests/s, p50 and p99 per row and
# Tandem's ratios, writes benches/ml/results.csv and results.png, then
# measures batching's gain in PAIRS (default 3) alternating runs.
#
#   benches/ml/run.sh                       # 2 processes, 10 s per row
#   PROCESSES=1 DURATION=5s benches/ml/run.sh
#   SERVERS="tandem tandem-unbatched" CONNECTIONS=64 benches/ml/run.sh
#
# Servers: tandem (dynamic batching on), tandem-unbatched (BATCHING=off),
# Flask + gunicorn (sync workers), FastAPI + uvicorn, FastAPI + granian,
# and the microservice baseline: a Fastify gateway calling the Python
# service (FastAPI + uvicorn) over HTTP.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PEERS=$ROOT/benches/.peers
DURATION=${DURATION:-10s}
PROCESSES=${PROCESSES:-2}
CONNECTIONS=${CONNECTIONS:-"1 16 64"}
PORT=${BENCH_PORT:-3927}
UPSTREAM_PORT=$((PORT + 1))
OUT=$ROOT/benches/ml

scripts/setup.sh
source benches/common.sh
.venv/bin/python -c "import flask, gunicorn, fastapi, uvicorn, granian, matplotlib, httptools, uvloop" 2>/dev/null ||
  .venv/bin/pip install -q --disable-pip-version-check -r benches/ml/requirements.txt
if [ ! -d "$PEERS/node_modules/fastify" ] || [ ! -d "$PEERS/node_modules/undici" ]; then
  mkdir -p "$PEERS"
  (cd "$PEERS" && { [ -f package.json ] || echo '{"name": "tandem-bench-peers", "private": true}' >package.json; } && npm install --silent fastify@5 undici@6)
fi
cp benches/ml/gateway.mjs "$PEERS/ml_gateway.mjs"
[ -x target/release/tandem ] || cargo build --release -p tandem
export VIRTUAL_ENV=$ROOT/.venv PATH=$ROOT/.venv/bin:$PATH LOG=off
APP=benches/ml

declare -A COMMANDS=(
  [tandem]="target/release/tandem run --port $PORT --processes $PROCESSES --workers 1 examples/ml-api/server.ts"
  [tandem-unbatched]="env BATCHING=off target/release/tandem run --port $PORT --processes $PROCESSES --workers 1 examples/ml-api/server.ts"
  [flask-gunicorn]="gunicorn --chdir $APP -w $PROCESSES -b 127.0.0.1:$PORT --log-level warning flask_app:app"
  [fastapi-uvicorn]="uvicorn --app-dir $APP --workers $PROCESSES --port $PORT --log-level warning --no-access-log fastapi_app:app"
  [fastapi-granian]="granian --interface asgi --working-dir $APP --workers $PROCESSES --port $PORT --log-level warning --no-access-log fastapi_app:app"
  [fastify-gateway]="env UPSTREAM=http://127.0.0.1:$UPSTREAM_PORT PORT=$PORT node $PEERS/ml_gateway.mjs"
)
read -ra ORDER <<<"${SERVERS:-tandem tandem-unbatched flask-gunicorn fastapi-uvicorn fastapi-granian fastify-gateway}"

wait_up() {
  for _ in $(seq 1 300); do
    if curl -sf -o /dev/null -H 'content-type: application/json' -d '{"text":"warm"}' "http://127.0.0.1:$1/api/sentiment"; then return 0; fi
    sleep 0.1
  done
  echo "error: $2 did not come up on port $1" >&2
  return 1
}

# start NAME: starts the server (and the gateway's upstream), sets PIDS.
start() {
  PIDS=""
  if [ "$1" = fastify-gateway ]; then
    setsid uvicorn --app-dir $APP --workers "$PROCESSES" --port "$UPSTREAM_PORT" --log-level warning --no-access-log fastapi_app:app >/dev/null 2>&1 &
    PIDS=$!
    wait_up "$UPSTREAM_PORT" "the gateway's Python service"
  fi
  setsid ${COMMANDS[$1]} >/dev/null 2>&1 &
  PIDS="$! $PIDS"
  wait_up "$PORT" "$1"
}

# load NAME CONNECTIONS: a warm-up, then one measured wrk run; sets RPS,
# P50, P99 and INVALID (see `measure` in benches/common.sh).
load() {
  local threads=$(( $2 < 2 ? 1 : 2 ))
  wrk -t"$threads" -c"$2" -d2s -s benches/ml/post.lua "http://127.0.0.1:$PORT/api/sentiment" >/dev/null
  measure -t"$threads" -c"$2" -d"$DURATION" -s benches/ml/post.lua "http://127.0.0.1:$PORT/api/sentiment"
}

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%F); $PROCESSES worker processes each; wrk $DURATION per row"
echo "server,connections,rps,p50_ms,p99_ms" > "$OUT/results.csv"
printf '%-18s %5s %10s %9s %9s\n' server conns "req/s" "p50 ms" "p99 ms"
for name in "${ORDER[@]}"; do
  start "$name"
  for c in $CONNECTIONS; do
    load "$name" "$c"
    # A row with errors stays out of results.csv, so out of every ratio.
    [ -n "$INVALID" ] || echo "$name,$c,$RPS,$P50,$P99" >> "$OUT/results.csv"
    printf '%-18s %5s %10.0f %9.2f %9.2f %s\n' "$name" "$c" "${RPS:-0}" "${P50:-0}" "${P99:-0}" "$(row_note)"
  done
  for pid in $PIDS; do stop "$pid"; done
done

# Batching's gain, measured apart: this machine's speed drifts by tens of
# percent over minutes, so batched and unbatched runs alternate, PAIRS
# times, at 64 connections, and the median of the pairs' ratios is quoted.
PAIRS=${PAIRS:-3}
if [ "$PAIRS" -gt 0 ]; then
  echo
  echo "batching at 64 connections, $PAIRS alternating pairs:"
  ratios=()
  for i in $(seq 1 "$PAIRS"); do
    line="  pair $i:"
    invalid=""
    for name in tandem tandem-unbatched; do
      start "$name"
      load "$name" 64
      for pid in $PIDS; do stop "$pid"; done
      line="$line $name $(printf '%.0f' "${RPS:-0}") req/s"
      [ -z "$INVALID" ] || invalid="$invalid $name: $INVALID"
      [ "$name" = tandem ] && batched=$RPS
    done
    if [ -n "$invalid" ]; then
      echo "$line, INVALID ($invalid), left out"
      continue
    fi
    ratio=$(echo "$batched $RPS" | awk '{printf "%.2f", $1 / $2}')
    ratios+=("$ratio")
    echo "$line, ratio ${ratio}x"
  done
  if [ ${#ratios[@]} -gt 0 ]; then
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    echo "batching: median ${median}x the unbatched requests/s over ${#ratios[@]} valid pairs"
  fi
fi

.venv/bin/python benches/ml/report.py "$OUT/results.csv" "$OUT/results.png"
