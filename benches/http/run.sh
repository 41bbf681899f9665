#!/usr/bin/env bash
# HTTP hello-world benchmark: Tandem against Deno.serve, Node http and
# Fastify, one after another in one run on this machine, each loaded by
# wrk with the same settings. Prints requests/s and p99 latency (median of
# ROUNDS runs) and Tandem's ratio to each peer.
#
#   benches/http/run.sh                # defaults: wrk -t2 -c50 -d10s, 3 rounds
#   DURATION=5s CONNECTIONS=100 ROUNDS=5 PARALLEL=1 benches/http/run.sh
#
# Every server gets the same parallelism, PARALLEL JavaScript threads or
# processes (default: one per core): Tandem `--workers PARALLEL`, Deno
# `deno serve --parallel` with DENO_JOBS=PARALLEL, Node and Fastify
# PARALLEL processes under node:cluster (benches/http/cluster.mjs). A run
# with non-2xx answers or socket errors is printed as INVALID and left out
# of the medians.
#
# Peers are installed into benches/.peers (ignored by git): Deno from the
# `deno` package on PyPI, Fastify from npm; wrk from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PEERS=$ROOT/benches/.peers
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PORT=${BENCH_PORT:-3917}

source benches/common.sh
command -v node >/dev/null || { echo "error: node is needed for the Node and Fastify peers" >&2; exit 1; }
if [ ! -x "$PEERS/venv/bin/deno" ]; then
  echo "installing Deno (PyPI) into $PEERS"
  python3 -m venv "$PEERS/venv" && "$PEERS/venv/bin/pip" install -q deno
fi
if [ ! -d "$PEERS/node_modules/fastify" ]; then
  echo "installing Fastify (npm) into $PEERS"
  (cd "$PEERS" && { [ -f package.json ] || echo '{"name": "tandem-bench-peers", "private": true}' >package.json; } && npm install --silent fastify@5)
fi
[ -x target/release/tandem ] || cargo build --release -p tandem

PARALLEL=${PARALLEL:-$(nproc)}
declare -A COMMANDS=(
  [tandem]="target/release/tandem run --port $PORT --workers $PARALLEL benches/http/hello_tandem.ts"
  [deno]="env DENO_JOBS=$PARALLEL $PEERS/venv/bin/deno serve --parallel --allow-net --host 127.0.0.1 --port $PORT benches/http/hello_deno.ts"
  [node]="env WORKERS=$PARALLEL node benches/http/cluster.mjs benches/http/hello_node.mjs"
  [fastify]="env WORKERS=$PARALLEL node benches/http/cluster.mjs $PEERS/hello_fastify.mjs"
)
cp benches/http/hello_fastify.mjs "$PEERS/hello_fastify.mjs"
ORDER=(tandem deno node fastify)


declare -A RPS P99
echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%F); wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS rounds"
echo "parallelism: $PARALLEL each (tandem --workers $PARALLEL; deno serve --parallel, DENO_JOBS=$PARALLEL; node and fastify: $PARALLEL cluster processes)"
echo "versions: $($PEERS/venv/bin/deno --version | head -1), node $(node --version), fastify $(node -p "require('$PEERS/node_modules/fastify/package.json').version")"
for name in "${ORDER[@]}"; do
  rps_runs=(); p99_runs=()
  for round in $(seq 1 "$ROUNDS"); do
    PORT=$PORT setsid ${COMMANDS[$name]} >/dev/null 2>&1 &
    pid=$!
    wait_for "http://127.0.0.1:$PORT/" "$name"
    # A short warm-up (JIT, connection set-up), then the measured run.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/" >/dev/null
    measure -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$PORT/"
    stop "$pid"
    if [ -n "$INVALID" ]; then
      echo "  $name round $round: $(row_note)"
      continue
    fi
    rps_runs+=("$RPS")
    p99_runs+=("$P99")
  done
  if [ ${#rps_runs[@]} -eq 0 ]; then
    echo "error: every round of $name was invalid; no figures" >&2
    exit 1
  fi
  RPS[$name]=$(printf '%s\n' "${rps_runs[@]}" | median)
  P99[$name]=$(printf '%s\n' "${p99_runs[@]}" | median)
  printf '%-8s %10.0f req/s   p99 %7.2f ms   (valid runs: %s)\n' "$name" "${RPS[$name]}" "${P99[$name]}" "${rps_runs[*]}"
done
echo
for name in deno node fastify; do
  awk -v t="${RPS[tandem]}" -v p="${RPS[$name]}" -v n="$name" 'BEGIN {printf "tandem / %-8s requests/s ratio %.2f\n", n, t/p}'
done
