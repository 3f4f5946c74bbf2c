"""The Enclave gateway: settings, database, HTTP API, web pages and the `enclave` command line."""
