"""The README demo (`make demo`, or `python -m enclave.demo`): every user job on embedded defaults."""
