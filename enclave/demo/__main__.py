"""`python -m enclave.demo`."""

from enclave.demo.main import main

main()
