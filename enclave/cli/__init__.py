"""The `enclave` command line (enclave/cli/main.py mounts one module per command group)."""
