# Shared by the benchmark scripts (sourced): wrk from Debian's packages and
# wrk's latency figures in milliseconds.

command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -q wrk >/dev/null; }

# wrk's latency figures come with units (us, ms, s): convert to ms.
to_ms() {
  awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else {sub(/s$/,"",v); print v*1000}}'
}

# stop PID: ends a server started with setsid (its whole process group),
# TERM first, KILL after 5 s.
stop() {
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
}
