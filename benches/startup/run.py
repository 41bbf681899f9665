"""Cold start and memory, Tandem against its peers, side by side in one run.

Cold start: the time from launching a server to its first 200 response,
ROUNDS times each (default 5), median and range. Memory: the resident set
(VmRSS, summed over every process the server started) after start-up and
WARMUP requests (default 500), median of ROUNDS.

Cases:
- hello world: `tandem run` (and with its compile caches off, as on a
  machine's first start), Deno (`deno serve`), Node's http module;
- Flask: `tandem run --wsgi`, gunicorn (sync), granian (WSGI);
- the ML example's sentiment route: `tandem run examples/ml-api/server.ts`
  (one process, one isolate; and two isolates, for the cost of one more),
  against the seed architecture's "separate runtimes": a Deno gateway
  (gateway_deno.ts) calling the same model behind FastAPI on uvicorn.

Run from the repository root:  .venv/bin/python benches/startup/run.py
(benches/startup/run.sh installs the peers first).
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROUNDS = int(os.environ.get("ROUNDS", "5"))
WARMUP = int(os.environ.get("WARMUP", "500"))
PORT = int(os.environ.get("BENCH_PORT", "3967"))
UPSTREAM = PORT + 1
PEERS = os.environ.get("PEERS", "benches/.peers")
BIN = os.path.dirname(sys.executable)
DENO = f"{PEERS}/venv/bin/deno"
TANDEM = "target/release/tandem"
SENTIMENT = json.dumps({"text": "The delivery was fast and the support team was friendly."}).encode()

# The seed architecture's published figures (Elide), for the ratios.
SEED_COLD_START_MS = 18
SEED_MEMORY_MB = {"both languages in one process": 45, "separate runtimes": 205}


def url(port, path="/"):
    return f"http://127.0.0.1:{port}{path}"


# name -> (commands: [(argv, env)], request: (path, body or None))
HELLO = {
    "tandem run": ([[TANDEM, "run", "--port", str(PORT), "--workers", "1", "benches/http/hello_tandem.ts"]], ("/", None)),
    # The first start on a machine: no compiled code from earlier runs
    # (the engine's bytecode cache and Tandem's Python code cache).
    "tandem run, caches off": (
        [["env", "V82JSC_NO_BC_CACHE=1", "TANDEM_NO_CODE_CACHE=1", TANDEM, "run", "--port", str(PORT), "--workers", "1", "benches/http/hello_tandem.ts"]],
        ("/", None),
    ),
    "deno serve": ([[DENO, "serve", "--allow-net", "--host", "127.0.0.1", "--port", str(PORT), "benches/http/hello_deno.ts"]], ("/", None)),
    "node http": ([["node", "benches/http/hello_node.mjs"]], ("/", None)),
}
FLASK = {
    "tandem run --wsgi": ([[TANDEM, "run", "--wsgi", "--port", str(PORT), "benches/wsgi/app.py"]], ("/", None)),
    "gunicorn": ([[f"{BIN}/gunicorn", "--chdir", "benches/wsgi", "-b", f"127.0.0.1:{PORT}", "app:app"]], ("/", None)),
    "granian": ([[f"{BIN}/granian", "--interface", "wsgi", "--working-dir", "benches/wsgi", "--port", str(PORT), "app:app"]], ("/", None)),
}
ML = {
    "tandem, 1 isolate": ([[TANDEM, "run", "--port", str(PORT), "--processes", "1", "--workers", "1", "examples/ml-api/server.ts"]], ("/api/sentiment", SENTIMENT)),
    "tandem, 2 isolates": ([[TANDEM, "run", "--port", str(PORT), "--processes", "1", "--workers", "2", "examples/ml-api/server.ts"]], ("/api/sentiment", SENTIMENT)),
    "deno + fastapi/uvicorn": (
        [
            [f"{BIN}/uvicorn", "--app-dir", "benches/ml", "--port", str(UPSTREAM), "--log-level", "warning", "--no-access-log", "fastapi_app:app"],
            [DENO, "run", "--allow-net", "--allow-env", "benches/startup/gateway_deno.ts"],
        ],
        ("/api/sentiment", SENTIMENT),
    ),
}


def request(path, body):
    req = urllib.request.Request(url(PORT, path), data=body, headers={"content-type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=5) as response:
        response.read()
        return response.status


def launch(commands):
    env = dict(os.environ, PORT=str(PORT), UPSTREAM=f"http://127.0.0.1:{UPSTREAM}", LOG="off")
    return [
        subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for argv in commands
    ]


def stop(processes):
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    time.sleep(0.3)


def first_200(commands, path, body):
    """Milliseconds from launch to the first 200, and the processes."""
    started = time.perf_counter()
    processes = launch(commands)
    while time.perf_counter() - started < 60:
        try:
            if request(path, body) == 200:
                return (time.perf_counter() - started) * 1000, processes
        except OSError:
            time.sleep(0.001)
    stop(processes)
    raise RuntimeError(f"{commands[0][0]} did not answer 200 on {path} within 60 s")


def rss_mb(processes):
    """VmRSS of every process in the servers' process groups, in MB."""
    groups = {p.pid for p in processes}
    total_kb = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) not in groups:
                continue
            with open(f"/proc/{entry}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total_kb / 1024


def run_case(name, commands, path, body):
    starts, memory = [], []
    for _ in range(ROUNDS):
        ms, processes = first_200(commands, path, body)
        try:
            for _ in range(WARMUP):
                request(path, body)
            memory.append(rss_mb(processes))
        finally:
            stop(processes)
        starts.append(ms)
    start, mb = statistics.median(starts), statistics.median(memory)
    print(
        f"  {name:<26} cold start {start:7.1f} ms (range {min(starts):.1f}-{max(starts):.1f})"
        f"   RSS {mb:6.1f} MB (range {min(memory):.1f}-{max(memory):.1f})",
        flush=True,
    )
    return start, mb


def group(title, cases):
    print(title)
    return {name: run_case(name, commands, *req) for name, (commands, req) in cases.items()}


def ratios(results, ours, label):
    start, mb = results[ours]
    for name, (other_start, other_mb) in results.items():
        if name != ours:
            print(f"  {label} / {name}: cold start {start / other_start:.2f}x, memory {mb / other_mb:.2f}x")


def main():
    print(f"machine: {os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}, {time.strftime('%Y-%m-%d')}; "
          f"{ROUNDS} rounds, RSS after {WARMUP} requests")
    hello = group("hello world:", HELLO)
    ratios(hello, "tandem run", "tandem")
    flask = group("Flask (benches/wsgi/app.py):", FLASK)
    ratios(flask, "tandem run --wsgi", "tandem")
    ml = group("ML example, POST /api/sentiment:", ML)
    ratios(ml, "tandem, 1 isolate", "tandem")
    one, two = ml["tandem, 1 isolate"][1], ml["tandem, 2 isolates"][1]
    print(f"  one more isolate: {two - one:+.1f} MB")
    print("against the seed's published figures:")
    print(f"  cold start: tandem run hello {hello['tandem run'][0]:.1f} ms, --wsgi Flask {flask['tandem run --wsgi'][0]:.1f} ms"
          f" (seed: {SEED_COLD_START_MS} ms for Flask)")
    print(f"  memory, ML example in one process: {one:.1f} MB (seed: {SEED_MEMORY_MB['both languages in one process']} MB);"
          f" separate runtimes here: {ml['deno + fastapi/uvicorn'][1]:.1f} MB (seed: {SEED_MEMORY_MB['separate runtimes']} MB)")


if __name__ == "__main__":
    main()
