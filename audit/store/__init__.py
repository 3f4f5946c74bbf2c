"""The audit log's relational store: tables, appending (in the caller's transaction or by group commit),
checkpoints, query, export source and retention."""
