"""Every long-lived service of a gateway (or of one command), built once from the runtime and closed once,
and one use case per act. The HTTP API, the web pages and the command line only parse input, call a use case
with an `Access` (who acts on which tenant) and render what it returns; each use case checks the permission it
needs, owns its transaction and writes its audit record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from auth.sessions import SessionStore
from auth.sso.backchannel import BackchannelLogout
from auth.sso.clients import ProviderClients
from auth.sso.flow import SignInService
from auth.sso.revalidation import SessionRevalidator
from enclave.cache import RateLimit
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.services.api_keys import ApiKeys
from enclave.services.audit import AuditLogService
from enclave.services.audit_browse import AuditBrowser
from enclave.services.authentication import Authentication, build_authentication
from enclave.services.jobs import background_jobs
from enclave.services.refusals import RefusalRecorder
from enclave.services.scim import Scim
from enclave.services.secrets import StoredSecrets
from enclave.services.sso import Sso
from enclave.services.sso_trial import SsoTrial
from enclave.services.storage import Storage, local_store_dir, open_storage_service
from enclave.services.tenants import Tenants
from enclave.services.users import Users
from storage_connector.local import LocalStore

__all__ = ["Access", "Services"]


def open_session_store(runtime: Runtime, clients: ProviderClients) -> SessionStore:
    """Sessions on this runtime, re-validated with their identity providers when due. The cache holds hot
    copies only when every replica shares it (Redis); an in-process cache would hide another process's
    revocation, so then every lookup reads the database."""
    shared = None if runtime.settings.cache_url.startswith("memory://") else runtime.cache
    return SessionStore(runtime.sessions, shared, SessionRevalidator(runtime.sessions, runtime.audit, clients))


@dataclass(frozen=True)
class Services:
    runtime: Runtime
    session_store: SessionStore
    refusals: RefusalRecorder
    authentication: Authentication
    sign_in: SignInService
    backchannel_logout: BackchannelLogout
    tenants: Tenants
    api_keys: ApiKeys
    users: Users
    sso: Sso
    sso_trial: SsoTrial  # the console's test sign-in
    audit: AuditLogService
    audit_browser: AuditBrowser  # the console's newest-first pages
    storage: Storage
    scim: Scim
    secrets: StoredSecrets

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        """Everything, wired once. Nothing here starts a thread or a task: `background_jobs` does, for a
        serving gateway only."""
        clients = ProviderClients(allow_insecure_loopback=runtime.settings.sso_allow_insecure_loopback_issuers)
        store = open_session_store(runtime, clients)
        sso = Sso(runtime)
        settings = runtime.settings
        refusals = RefusalRecorder(
            runtime.cache, runtime.appender, RateLimit(settings.refusals_per_tenant, settings.refusal_window_seconds)
        )
        sign_in = SignInService(runtime.sessions, runtime.audit, store, clients)
        storage = open_storage_service(runtime, refusals)
        return cls(
            runtime=runtime,
            session_store=store,
            refusals=refusals,
            authentication=build_authentication(runtime, store, refusals),
            sign_in=sign_in,
            backchannel_logout=BackchannelLogout(runtime.sessions, runtime.audit, store, clients),
            tenants=Tenants(runtime),
            api_keys=ApiKeys(runtime),
            users=Users(runtime, store, sso.keycloak_offboarding),
            sso=sso,
            sso_trial=SsoTrial(runtime, sign_in),
            audit=AuditLogService(runtime, storage),
            audit_browser=AuditBrowser(runtime),
            storage=Storage(storage, runtime.appender, LocalStore(local_store_dir(settings))),
            scim=Scim(runtime, store, sso.keycloak_offboarding),
            secrets=StoredSecrets(runtime),
        )

    @asynccontextmanager
    async def background_jobs(self) -> AsyncIterator[None]:
        """The jobs a serving gateway runs (audit checkpoints, the audit sync, the storage access probe), stopped
        on exit."""
        async with background_jobs(self.runtime, self.storage.service, self.refusals, self.audit.sync.job):
            yield

    def close(self) -> None:
        """Close what the services hold (the runtime: database, cache, audit appender, telemetry)."""
        self.runtime.close()
