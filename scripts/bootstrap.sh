#!/usr/bin/env bash
# Installs everything Enclave needs on a fresh machine, idempotently:
#   - uv (pinned, into .tools/) and the locked Python environment (.venv/) from requirements.lock;
#   - the project itself, editable, so the `enclave` command is on .venv/bin;
#   - checkov (the Terraform scanner the BYOB kits are checked with) into its own .tools/checkov/ venv from
#     requirements-checkov.lock: it pins boto3 exactly, so it cannot share the project's environment;
#   - the npm packages of package-lock.json (Azurite, oidc-provider, axe-core) into node_modules/;
#   - Debian's Chromium, for the browser tests of the web pages (when it is missing and we are root).
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
  # Bytecode compiled once at install: PYTHONDONTWRITEBYTECODE is set on these machines, and without it every
  # process compiles the large Pulumi and cdktf SDKs again (4–5 s of a cold preview).
  "$uv" pip sync --quiet --compile-bytecode --python .venv/bin/python --require-hashes requirements.lock
  "$uv" pip install --quiet --python .venv/bin/python --no-deps -e .
  echo "$want" > "$stamp"
fi

checkov_stamp=.tools/checkov/.enclave-installed
checkov_want=$(sha256sum requirements-checkov.lock | cut -d' ' -f1)
if [ ! -f "$checkov_stamp" ] || [ "$(cat "$checkov_stamp")" != "$checkov_want" ]; then
  [ -x .tools/checkov/bin/python ] || "$uv" venv --quiet --python python3.11 .tools/checkov
  "$uv" pip sync --quiet --python .tools/checkov/bin/python --require-hashes requirements-checkov.lock
  echo "$checkov_want" > "$checkov_stamp"
fi

npm_stamp=node_modules/.enclave-installed
npm_want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "$npm_want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_want" > "$npm_stamp"
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing; install Debian's chromium for the browser tests" >&2
  fi
fi
