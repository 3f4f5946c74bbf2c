"""`python -m enclave.cli`: the `enclave` command."""

from enclave.cli.main import main

main()
