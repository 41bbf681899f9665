#!/usr/bin/env bash
# Sets up the machine if needed, builds Tandem and serves the main example,
# the ML prediction API (examples/ml-api), on http://127.0.0.1:3000/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source .venv/bin/activate
cargo build --release -p tandem
exec ./target/release/tandem run "$@" examples/ml-api/server.ts
