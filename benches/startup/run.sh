#!/usr/bin/env bash
# Cold start and memory of Tandem against Deno, Node, gunicorn, granian and
# a Deno gateway + FastAPI/uvicorn service (benches/startup/run.py says
# what each case is). Installs Deno from PyPI into benches/.peers, as
# benches/http/run.sh does.
#
#   benches/startup/run.sh            # ROUNDS=5 WARMUP=500
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PEERS=$ROOT/benches/.peers
scripts/setup.sh
command -v node >/dev/null || { echo "error: node is needed for the Node peer" >&2; exit 1; }
if [ ! -x "$PEERS/venv/bin/deno" ]; then
  echo "installing Deno (PyPI) into $PEERS"
  python3 -m venv "$PEERS/venv" && "$PEERS/venv/bin/pip" install -q deno
fi
.venv/bin/python -c "import flask, gunicorn, fastapi, uvicorn, granian" 2>/dev/null ||
  .venv/bin/pip install -q --disable-pip-version-check -r benches/ml/requirements.txt
[ -x target/release/tandem ] || cargo build --release -p tandem
export VIRTUAL_ENV=$ROOT/.venv PATH=$ROOT/.venv/bin:$PATH PEERS
exec .venv/bin/python benches/startup/run.py
