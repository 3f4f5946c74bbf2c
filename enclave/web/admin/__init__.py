"""The customer's console: one page per module (users, audit log, storage, API keys, identity providers), each
calling the same use cases as the API and the command line with the signed-in user's `Access`."""

from enclave.web.admin import api_keys, audit_log, identity, storage, users

ROUTERS = (users.router, audit_log.router, storage.router, api_keys.router, identity.router)
