#!/usr/bin/env bash
# Where a TS -> Python call's time goes (docs/benchmarks.md, "Where a
# call's time goes"): perf samples a loop of 3,000,000 no-argument calls
# and one of 300,000 `echo({user, scores, active})` round trips, and
# prints the functions with the largest share of the loop's samples (self
# time). The shares in the docs are sums of these rows by part.
#
#   benches/profile_call.sh            (after scripts/setup.sh and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "installing perf"; apt-get install -y -q linux-perf >/dev/null; }
source .venv/bin/activate
tandem=./target/release/tandem
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/noop_loop.ts" <<TS
import { noop } from "$PWD/benches/bridge.py";
for (let i = 0; i < 3_000_000; i++) noop();
TS
cat > "$work/echo_loop.ts" <<TS
import { echo } from "$PWD/benches/bridge.py";
const payload = { user: "ada", scores: [0.25, 0.5, 0.75], active: true };
for (let i = 0; i < 300_000; i++) echo(payload);
TS
for loop in noop_loop echo_loop; do
  echo "== $loop: functions by share of samples (self time) =="
  perf record -q -F 2000 -g -o "$work/$loop.data" "$tandem" run "$work/$loop.ts" >/dev/null 2>&1
  perf report -i "$work/$loop.data" --no-children --percent-limit 1 --stdio -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | awk '{ $2=""; $3=""; print }' | head -30
done
