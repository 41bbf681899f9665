#!/usr/bin/env bash
# A/B: two builds of Tandem on the same workloads, alternating, in one run.
# For a change that must not move performance (a refactor): run the binary
# before the change as A and after it as B, and read the B/A ratios.
#
#   benches/ab.sh /tmp/tandem-before target/release/tandem
#   ROUNDS=5 DURATION=8s benches/ab.sh A B
#
# Rows: the HTTP hello world (benches/http, 2 workers, 100 connections),
# the WSGI app (benches/wsgi, `/` at 1 and 64 connections) and the ML API's
# sentiment route (examples/ml-api, 1 worker, 64 connections). Each round
# runs every row on A then B (or B then A on odd rounds, so that neither is
# always the warmer one); the medians of ROUNDS rounds are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: benches/ab.sh BINARY_A BINARY_B" >&2; exit 2; }
A=$1 B=$2
for bin in "$A" "$B"; do [ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 2; }; done
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
PORT=${BENCH_PORT:-3931}

scripts/setup.sh
source benches/common.sh
export VIRTUAL_ENV=$PWD/.venv PATH=$PWD/.venv/bin:$PATH LOG=off

# row NAME -> "server args|wrk args|probe curl args"
declare -A SERVER=(
  [http]="run --port $PORT --workers 2 benches/http/hello_tandem.ts"
  [wsgi-c1]="run --wsgi --port $PORT benches/wsgi/app.py"
  [wsgi-c64]="run --wsgi --port $PORT benches/wsgi/app.py"
  [ml]="run --port $PORT --workers 1 examples/ml-api/server.ts"
)
declare -A LOAD=(
  [http]="-t2 -c100 http://127.0.0.1:$PORT/"
  [wsgi-c1]="-t1 -c1 http://127.0.0.1:$PORT/"
  [wsgi-c64]="-t2 -c64 http://127.0.0.1:$PORT/"
  [ml]="-t2 -c64 -s benches/ml/post.lua http://127.0.0.1:$PORT/api/sentiment"
)
ROWS=(http wsgi-c1 wsgi-c64 ml)

# one BINARY ROW: starts the server, warms up, measures; prints req/s.
one() {
  setsid "$1" ${SERVER[$2]} >/dev/null 2>&1 &
  local pid=$!
  wait_for "http://127.0.0.1:$PORT/health" "$1"
  wrk -d2s ${LOAD[$2]} >/dev/null
  measure -d"$DURATION" ${LOAD[$2]}
  stop "$pid"
  if [ -n "$INVALID" ]; then echo "INVALID ($INVALID)" >&2; echo 0; else echo "$RPS"; fi
}

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%F); wrk $DURATION per row, $ROUNDS alternating rounds"
echo "A: $A"
echo "B: $B"
declare -A RUNS
for round in $(seq 1 "$ROUNDS"); do
  for row in "${ROWS[@]}"; do
    order=(A B)
    [ $((round % 2)) -eq 0 ] && order=(B A)
    for side in "${order[@]}"; do
      bin=$A; [ "$side" = B ] && bin=$B
      rps=$(one "$bin" "$row")
      RUNS[$row,$side]="${RUNS[$row,$side]:-} $rps"
      printf 'round %d %-9s %s %10.0f req/s\n' "$round" "$row" "$side" "$rps"
    done
  done
done

echo
printf '%-9s %12s %12s %8s\n' row "A median" "B median" "B/A"
for row in "${ROWS[@]}"; do
  a=$(tr ' ' '\n' <<<"${RUNS[$row,A]}" | grep -v '^$' | median)
  b=$(tr ' ' '\n' <<<"${RUNS[$row,B]}" | grep -v '^$' | median)
  printf '%-9s %12.0f %12.0f %8.2f\n' "$row" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print (a > 0) ? b / a : 0}')"
done
