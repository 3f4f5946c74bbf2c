"""One router per resource; `enclave/api/groups.py` mounts each in its group."""
