"""Identity: tenants, users, API keys, roles, principals; SSO providers and sessions build on these."""
