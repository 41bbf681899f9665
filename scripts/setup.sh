#!/usr/bin/env bash
# Installs everything building, running and testing Tandem needs, on a fresh
# machine: cmake and simde headers for the QuickJS engine build, podman,
# runc and mmdebstrap for the container image test, Node.js and the
# TypeScript compiler for `tandem check`, and a
# Python virtualenv (.venv) with the packages in requirements.txt, and the
# ML API example's models.
# Safe to run repeatedly; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
[ -f /usr/include/simde/simde-common.h ] || missing+=(libsimde-dev)
# The container image test (tests/image.rs, deploy/local-image.sh).
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
# `tandem check` runs the TypeScript compiler on Node.js (tests/types.rs).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import numpy, sklearn, onnxruntime, skl2onnx, PIL, flask, kubernetes_validate, fastapi, python_multipart, uvicorn, granian" >/dev/null 2>&1 \
    || [ ! -x .venv/bin/hadolint ]; then
  echo "setup: installing Python packages from requirements.txt" >&2
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
fi

# The TypeScript compiler `tandem check` uses, at the version package-lock.json pins.
if [ ! -f node_modules/typescript/lib/tsc.js ]; then
  echo "setup: installing the TypeScript compiler (npm ci)" >&2
  npm ci --no-audit --no-fund --silent
fi

# The ML API example's models are trained here, from data the project ships
# (a few seconds; skipped once examples/ml-api/models/ holds them).
.venv/bin/python examples/ml-api/train.py >/dev/null
