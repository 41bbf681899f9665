#!/usr/bin/env bash
# Sets up the machine if needed, builds the workspace once (release) and
# runs every test: unit tests, golden-output scripts, embedding tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source .venv/bin/activate
cargo build --release --workspace
cargo test --release --workspace
