#!/usr/bin/env bash
# Installs everything Enclave needs on a fresh machine, idempotently:
#   - uv (pinned, into .tools/) and the locked Python environment (.venv/) from requirements.lock;
#   - the project itself, editable, so the `enclave` command is on .venv/bin.
# Re-running is cheap: it only reinstalls when requirements.lock or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version | grep -q "$UV_VERSION"; then
  python3.11 -m venv .tools
  .tools/bin/pip install --quiet "uv==$UV_VERSION"
fi
uv=.tools/bin/uv

stamp=.venv/.enclave-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ -x .venv/bin/python ] || "$uv" venv --quiet --python python3.11 .venv
  "$uv" pip sync --quiet --python .venv/bin/python --require-hashes requirements.lock
  "$uv" pip install --quiet --python .venv/bin/python --no-deps -e .
  echo "$want" > "$stamp"
fi
