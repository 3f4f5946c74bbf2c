"""Tenants (the platform operator's): add and list them, and look one up for the command line, which acts on a
tenant it names (an unknown one is refused rather than silently read as empty)."""

from __future__ import annotations

from audit.events import Actor
from auth.models import Tenant
from auth.roles import Role
from auth.tenants import TenantError, create_tenant, get_tenant, list_tenants
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.settings import Mode
from tenancy.errors import ConflictError, NotFoundError
from tenancy.names import TENANT_NAME_RULE, is_tenant_name


class Tenants:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def add(
        self,
        actor: Actor,
        tenant_id: str,
        *,
        display_name: str | None = None,
        hostname: str | None = None,
        default_role: Role = Role.VIEWER,
    ) -> Tenant:
        if not is_tenant_name(tenant_id):
            raise TenantError(f"invalid tenant id: {TENANT_NAME_RULE}")
        if self._runtime.settings.mode is Mode.DEDICATED and tenant_id != self._runtime.settings.tenant:
            raise ConflictError(
                f"this gateway is dedicated to tenant {self._runtime.settings.tenant!r}; "
                "a shared gateway (ENCLAVE_MODE=shared) serves more than one"
            )
        with transaction(self._runtime.sessions) as session:
            return create_tenant(
                session,
                self._runtime.audit,
                actor,
                tenant_id,
                display_name=display_name,
                hostname=hostname,
                default_role=default_role,
            )

    def list(self) -> list[Tenant]:
        with self._runtime.sessions() as session:
            return list_tenants(session)

    def get(self, tenant_id: str) -> Tenant:
        """The tenant; NotFoundError when there is none of that id (or it is disabled)."""
        with self._runtime.sessions() as session:
            tenant = get_tenant(session, tenant_id)
        if tenant is None or tenant.disabled_at is not None:
            raise NotFoundError(f"no tenant {tenant_id!r} on this gateway")
        return tenant
