# The two commands a newcomer needs (see README.md):
#   make demo   set everything up and run the main job on embedded defaults
#   make test   set everything up and run the whole test suite
.PHONY: demo test lint bench setup services lock console

setup:
	@scripts/bootstrap.sh

services:
	@scripts/services.sh

demo: setup
	@.venv/bin/python -m enclave.demo

console: setup  # the console to click through yourself (README, "The console")
	@.venv/bin/python -m enclave.demo.open_console

test: setup services
	.venv/bin/python -m pytest -n 2 --dist loadgroup

lint: setup
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports --no-cache

bench: setup services
	.venv/bin/python -m benchmarks.audit
	.venv/bin/python -m benchmarks.preview
	.venv/bin/python -m benchmarks.auth
	.venv/bin/python -m benchmarks.signing
	.venv/bin/python -m benchmarks.byob
	.venv/bin/python -m benchmarks.console

# Re-resolve dependencies after editing pyproject.toml; commit requirements.lock.
lock: setup
	.tools/bin/uv lock --upgrade-package enclave
	.tools/bin/uv export --frozen --all-extras --all-groups --format requirements-txt \
	  --no-emit-project --no-header -o requirements.lock
	echo "checkov==3.3.30" | .tools/bin/uv pip compile --python-version 3.11 --generate-hashes --no-header \
	  --quiet - -o requirements-checkov.lock
