"""SCIM 2.0 provisioning (RFC 7643 / 7644): the tenant's directory (Okta, Entra ID) creates, updates and removes
Enclave users and their group memberships, which map to roles. See docs/scim.md."""
