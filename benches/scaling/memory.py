"""Resident memory of the ML example by processes and workers, for the
capacity model in docs/scaling.md.

    .venv/bin/python benches/scaling/memory.py [REQUESTS]

Starts `tandem run examples/ml-api/server.ts` as `--processes P --workers W`
for (1, 1), (1, 2), (1, 4) and (2, 1), sends REQUESTS (default 500)
requests to each route family (sentiment, a batch, recommendations) so
that every worker has served, then reads VmRSS of every process in the
server's tree from /proc. Prints the RSS of each server process and of
the supervisor, and what one more isolate and one more process add.
"""

import json
import os
import pathlib
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
TANDEM = ROOT / "target" / "release" / "tandem"
SERVER = ROOT / "examples" / "ml-api" / "server.ts"


def rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid):
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def post(port, path, body):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        response.read()


def measure(processes, workers, requests):
    command = [TANDEM, "run", "--port", "0", "--processes", str(processes), "--workers", str(workers), SERVER]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    seen = 0
    for line in server.stdout:
        if line.startswith("Listening on"):
            port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
            seen += 1
            if seen == (processes if processes > 1 else 1):
                break
    # The example logs every request to stdout: keep the pipe drained.
    threading.Thread(target=lambda: server.stdout.read(), daemon=True).start()
    for i in range(requests):
        post(port, "/api/sentiment", {"text": f"review {i}: great value, would buy again"})
        post(port, "/api/sentiment/batch", {"texts": ["good", "bad", "fine"]})
    time.sleep(1)
    servers = children(server.pid) if processes > 1 else [server.pid]
    per_server = [rss_mib(pid) for pid in servers]
    supervisor = rss_mib(server.pid) if processes > 1 else 0.0
    server.terminate()
    server.wait()
    return per_server, supervisor


def main(requests):
    print(f"ML example, {requests} sentiment + {requests} batch requests each, RSS in MiB")
    results = {}
    for processes, workers in [(1, 1), (1, 2), (1, 4), (2, 1)]:
        per_server, supervisor = measure(processes, workers, requests)
        results[(processes, workers)] = per_server
        listed = ", ".join(f"{r:.1f}" for r in per_server)
        extra = f" + supervisor {supervisor:.1f}" if processes > 1 else ""
        print(f"  --processes {processes} --workers {workers}: server process(es) {listed}{extra}; total {sum(per_server) + supervisor:.1f}")
    one = results[(1, 1)][0]
    print(f"one more isolate (worker) in a process: +{(results[(1, 2)][0] - one):.1f} MiB "
          f"(1 -> 4 workers: +{(results[(1, 4)][0] - one) / 3:.1f} MiB each)")
    print(f"one more process: +{sum(results[(2, 1)]) - one:.1f} MiB of server process, plus the supervisor once")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
