"""enclave package."""
