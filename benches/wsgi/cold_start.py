"""Cold start of the WSGI benchmark's Flask app: the time from launching a
server to its first 200 response on /, for Tandem (`tandem run --wsgi`),
Flask's own development server (`python app.py`), gunicorn and granian.
Each is started ROUNDS times (default 5); the median and the range are
printed. Run from the repository root with the virtualenv's Python.
"""

import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

PORT = int(os.environ.get("BENCH_PORT", "3947"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
APP_DIR = "benches/wsgi"
BIN = os.path.dirname(sys.executable)

SERVERS = {
    "tandem, no-op app": ["target/release/tandem", "run", "--wsgi", "--port", str(PORT), f"{APP_DIR}/noop.py"],
    "tandem": ["target/release/tandem", "run", "--wsgi", "--port", str(PORT), f"{APP_DIR}/app.py"],
    "flask dev server": [sys.executable, f"{APP_DIR}/app.py", str(PORT)],
    "gunicorn": [f"{BIN}/gunicorn", "--chdir", APP_DIR, "-b", f"127.0.0.1:{PORT}", "app:app"],
    "granian": [f"{BIN}/granian", "--interface", "wsgi", "--working-dir", APP_DIR, "--port", str(PORT), "app:app"],
}


def first_200(command):
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        while time.perf_counter() - started < 30:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=1) as response:
                    if response.status == 200:
                        return (time.perf_counter() - started) * 1000
            except OSError:
                time.sleep(0.001)
        raise RuntimeError(f"{command[0]} did not answer within 30 s")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(0.2)


def import_only():
    """Milliseconds for a plain `python -c "import app"` of the Flask app."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import app"], cwd=APP_DIR, check=True)
    return (time.perf_counter() - started) * 1000


def main():
    print(f"cold start (launch to first 200 on /), {ROUNDS} rounds each:")
    imports = [import_only() for _ in range(ROUNDS)]
    print(f"  {'python -c import app':<20} median {statistics.median(imports):7.1f} ms  (the app's own import, no server)")
    medians = {}
    for name, command in SERVERS.items():
        times = [first_200(command) for _ in range(ROUNDS)]
        medians[name] = statistics.median(times)
        print(f"  {name:<20} median {medians[name]:7.1f} ms  (range {min(times):.1f}-{max(times):.1f})")
    for name, median in medians.items():
        if not name.startswith("tandem"):
            print(f"  tandem / {name}: {medians['tandem'] / median:.2f}x the time")


if __name__ == "__main__":
    main()
