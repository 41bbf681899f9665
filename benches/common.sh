# Shared by the benchmark scripts (sourced): wrk from Debian's packages,
# one checked wrk run, and stopping servers.

command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -q wrk >/dev/null; }

# wrk's latency figures come with units (us, ms, s): convert to ms.
to_ms() {
  awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else {sub(/s$/,"",v); print v*1000}}'
}

# measure WRK_ARGS...: one `wrk --latency` run. Sets RPS, P50 and P99 (ms),
# and INVALID: empty when every answer was a 2xx and no socket failed,
# else what went wrong. A run with INVALID set measured errors as well as
# answers: print it marked as such and leave it out of every table.
measure() {
  local out
  out=$(wrk --latency "$@")
  RPS=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  P50=$(awk '$1 == "50%" {print $2}' <<<"$out" | to_ms)
  P99=$(awk '$1 == "99%" {print $2}' <<<"$out" | to_ms)
  INVALID=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | sed 's/^ *//' | paste -sd ';' - || true)
  [ -n "$RPS" ] || INVALID="wrk printed no requests/s${INVALID:+; $INVALID}"
}

# row_note: what to print after a row: "" or "INVALID (...), left out".
row_note() {
  [ -z "$INVALID" ] || printf 'INVALID (%s), left out' "$INVALID"
}

# wait_for URL NAME: waits up to 30 s until URL answers 2xx; fails naming NAME.
wait_for() {
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "error: $2 did not come up ($1)" >&2
  return 1
}

# median: the median of the numbers on stdin, one a line (the lower middle
# one for an even count).
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# stop PID: ends a server started with setsid (its whole process group),
# TERM first, KILL after 5 s.
stop() {
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
}
