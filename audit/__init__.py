"""Append-only, tamper-evident audit log: event model, hash chain, signed checkpoints, store, export, verify.

The bottom layer of Enclave: every other package records what it does here, and nothing here imports them.
"""
