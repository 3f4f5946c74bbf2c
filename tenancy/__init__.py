"""Rules that both the deployed runtime (`enclave`, `auth`, `audit`) and the deployer (`infra`) need.

Imports nothing from either side, so `infra/` can use it without pulling in the runtime packages."""
