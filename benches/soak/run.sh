#!/usr/bin/env bash
# Soak: a long load against examples/ml-api, then a million TS -> Python
# calls, each checking that memory stays flat. Not part of the test suite
# (it takes minutes); results go to docs/reliability.md.
#
#   benches/soak/run.sh                     # 600 s at 64 connections, 1M calls
#   SECONDS_LOAD=120 CALLS=200000 benches/soak/run.sh
#
# Load: wrk POSTs /api/sentiment (one process, its default workers) for
# SECONDS_LOAD seconds at CONNECTIONS connections, after a 30 s warm-up.
# The server's RSS (the tandem process, read from /proc) is sampled every
# 10 s; the run passes when wrk saw no error (non-2xx or socket error) and
# every sample after the first minute is within 5% of their median.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_LOAD=${SECONDS_LOAD:-600}
CONNECTIONS=${CONNECTIONS:-64}
CALLS=${CALLS:-1000000}
PORT=${BENCH_PORT:-3931}

scripts/setup.sh
source benches/common.sh
source .venv/bin/activate
[ -x target/release/tandem ] || cargo build --release -p tandem
export LOG=off

rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# within_5pct SAMPLES...: prints the median and the largest deviation from
# it; fails when that deviation is over 5%.
within_5pct() {
  printf '%s\n' "$@" | median >/tmp/soak_median
  local med
  med=$(cat /tmp/soak_median)
  printf '%s\n' "$@" | awk -v m="$med" '
    { d = ($1 - m) / m * 100; if (d < 0) d = -d; if (d > max) max = d }
    END { printf "median %.1f MiB, largest deviation %.1f%%\n", m, max; exit (max > 5) }'
}

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -sr), $(date -u +%F); commit $(git rev-parse --short HEAD)"
status=0

# --- Load -------------------------------------------------------------------
setsid target/release/tandem run --port "$PORT" examples/ml-api/server.ts >/tmp/soak_server.log 2>&1 &
SERVER=$!
trap 'stop $SERVER' EXIT
for _ in $(seq 1 300); do
  curl -sf -o /dev/null -H 'content-type: application/json' -d '{"text":"warm"}' "http://127.0.0.1:$PORT/api/sentiment" && break
  sleep 0.1
done
wrk -t2 -c"$CONNECTIONS" -d30s -s benches/ml/post.lua "http://127.0.0.1:$PORT/api/sentiment" >/dev/null
echo "load: ${SECONDS_LOAD} s at $CONNECTIONS connections, POST /api/sentiment; RSS after the warm-up: $(rss_mib $SERVER) MiB"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_LOAD}s" --timeout 10s --latency -s benches/ml/post.lua \
  "http://127.0.0.1:$PORT/api/sentiment" >/tmp/soak_wrk.txt &
WRK=$!
samples=()
elapsed=0
while kill -0 $WRK 2>/dev/null; do
  sleep 10
  elapsed=$((elapsed + 10))
  kill -0 $SERVER 2>/dev/null || { echo "error: the server died at ${elapsed} s"; status=1; break; }
  mib=$(rss_mib $SERVER)
  echo "  ${elapsed} s: RSS ${mib} MiB"
  [ "$elapsed" -le 60 ] || samples+=("$mib")
done
wait $WRK || true
grep -E 'requests in|Requests/sec|Non-2xx|Socket errors|50%|99%' /tmp/soak_wrk.txt | sed 's/^ */  wrk: /'
if grep -qE 'Non-2xx|Socket errors' /tmp/soak_wrk.txt; then echo "load: FAIL, wrk saw errors"; status=1; fi
if [ ${#samples[@]} -gt 0 ]; then
  if result=$(within_5pct "${samples[@]}"); then echo "load: RSS after the first minute: $result: flat"
  else echo "load: RSS after the first minute: $result: FAIL, not within 5%"; status=1; fi
fi
stop $SERVER
trap - EXIT

# --- Calls ------------------------------------------------------------------
echo
echo "calls: $CALLS TS -> Python calls creating and dropping proxies and JS callbacks"
if ! target/release/tandem run benches/soak/calls.ts "$CALLS"; then status=1; fi
exit $status
