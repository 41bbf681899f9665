#!/usr/bin/env bash
# Sets up the machine if needed, builds Tandem and runs the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source .venv/bin/activate
cargo build --release -p tandem
exec ./target/release/tandem run examples/hello/main.ts "$@"
