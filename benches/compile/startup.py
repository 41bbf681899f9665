"""Size and cold start of `tandem compile` against `tandem run`, side by side.

    .venv/bin/python benches/compile/startup.py [RUNS]

Compiles examples/ml-api (models included) into one executable, then
times, RUNS times each, from the start of the process to its "Listening
on" line (every worker has loaded the module, models included):
`tandem run server.ts`, the executable's first start (it unpacks its app
into an empty cache folder) and its later starts (the cache is there).
Prints medians and the ratio to `tandem run`.
"""

import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
TANDEM = ROOT / "target" / "release" / "tandem"
EXAMPLE = ROOT / "examples" / "ml-api"


def time_to_listening(command, env):
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    for line in process.stdout:
        if line.startswith("Listening on"):
            elapsed = time.perf_counter() - started
            break
    else:
        raise SystemExit(f"{command[0]} did not start")
    process.terminate()
    process.wait()
    return elapsed


def main(runs):
    work = pathlib.Path(tempfile.mkdtemp(prefix="tandem-compile-bench-"))
    app = work / "ml-api"
    subprocess.run([TANDEM, "compile", EXAMPLE / "server.ts", "--include", "models", "-o", app], check=True)
    env = dict(os.environ)
    flags = ["--port", "0", "--workers", "1"]
    run = [time_to_listening([TANDEM, "run", *flags, EXAMPLE / "server.ts"], env) for _ in range(runs)]
    first, later = [], []
    for i in range(runs):
        cache = work / f"cache-{i}"
        env["TANDEM_CACHE_DIR"] = str(cache)
        first.append(time_to_listening([app, *flags], env))
        later.append(time_to_listening([app, *flags], env))
    base = statistics.median(run)
    print(f"executable: {app.stat().st_size / 1048576:.1f} MiB (tandem alone: {TANDEM.stat().st_size / 1048576:.1f} MiB)")
    print(f"start to 'Listening on', median of {runs}:")
    for name, samples in [("tandem run server.ts", run), ("./ml-api, first start", first), ("./ml-api, cached", later)]:
        median = statistics.median(samples)
        print(f"  {name:24} {median * 1000:7.1f} ms   x{median / base:.2f}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
