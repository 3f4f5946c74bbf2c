"""Continuous sync of a tenant's audit log into its own storage grant, as the gateway runs it: turning it on and
off, its status, a sync now, and the check of the synced history read back through the grant.

The bucket is reached only through the storage connector: the grant's own signer and the same signed URLs a
user gets (for the local store, checked in process as its route checks them), and only while the grant is
active, so a grant the customer revokes stops the sync too. Turning sync on or off, and syncing now, need
`storage.revoke` (security-admin, admin: the people who control the gateway's access to the bucket); reading
the status and checking the bucket need `audit.read`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from audit.bucket import BucketReport, Prefixed, bucket_keys, verify_bucket
from audit.keys import KeyEntry, KeyHistoryError
from audit.store.key_history import load_key_history
from audit.store.tables import audit_sync_targets
from audit.sync import DEFAULT_PREFIX, SyncJob, SyncOutcome, SyncStatus, disable_sync, enable_sync, sync_readiness
from audit.sync import sync_status as target_status
from auth.roles import Permission
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.access import Access
from enclave.services.storage import local_store_dir
from storage_connector.grants import Grant, GrantStatus, get_grant
from storage_connector.local import LocalStore
from storage_connector.objects import GrantObjects, ObjectStoreError, grant_objects
from storage_connector.service import StorageService
from tenancy.errors import ConflictError, InvalidRequestError, UnavailableError


class AuditSync:
    def __init__(self, runtime: Runtime, storage: StorageService) -> None:
        self._runtime = runtime
        self._storage = storage
        self.interval = timedelta(seconds=runtime.settings.audit_sync_seconds)
        self.job = SyncJob(
            runtime.sessions, runtime.audit, self.objects, key_history=self._key_history, interval=self.interval
        )

    # -- the bucket, through the grant -------------------------------------------------------------------

    def objects(self, tenant: str, grant_id: str) -> GrantObjects:
        """The objects of the tenant's grant through its own signer; ObjectStoreError when the grant is gone, not
        the tenant's, or not active (the sync records that as its failure)."""
        grant = self._storage.grant_by_id(grant_id)
        if grant is None or grant.tenant != tenant:
            raise ObjectStoreError(f"tenant {tenant!r} has no storage grant {grant_id}", denied=True)
        status = self._storage.states.status(grant.id)
        if status is not GrantStatus.ACTIVE:
            raise ObjectStoreError(f"grant {grant.name} is {status.value}", denied=True)
        signer = self._storage.signers.for_grant(grant)
        return grant_objects(grant, signer, LocalStore(local_store_dir(self._runtime.settings)))

    def _key_history(self) -> list[KeyEntry]:
        with self._runtime.sessions() as session:
            return load_key_history(session)

    def _grant(self, access: Access, grant: str) -> Grant:
        with self._runtime.sessions() as session:
            return get_grant(session, access.tenant, grant)

    def _prefix(self, tenant: str, grant_id: str) -> str | None:
        t = audit_sync_targets.c
        with self._runtime.sessions() as session:
            prefix: str | None = session.execute(
                select(t.prefix).where(t.tenant_id == tenant, t.grant_id == grant_id)
            ).scalar()
        return prefix

    # -- use cases ----------------------------------------------------------------------------------------

    def enable(self, access: Access, grant: str, prefix: str = DEFAULT_PREFIX) -> SyncStatus:
        """Sync the tenant's log into `grant` (name or id; it must be active) under `prefix`, every interval from
        now on; audited as `audit.sync.enabled`."""
        access.require(Permission.STORAGE_REVOKE)
        found = self._grant(access, grant)
        status = self._storage.states.status(found.id)
        if status is not GrantStatus.ACTIVE:
            raise ConflictError(f"grant {found.name} is {status.value}: the audit log cannot be synced into it")
        with transaction(self._runtime.sessions) as session:
            return enable_sync(session, self._runtime.audit, access.actor, access.tenant, found.id, prefix)

    def disable(self, access: Access, grant: str) -> None:
        """Stop syncing into `grant` (what the bucket holds stays: it is the customer's); `audit.sync.disabled`."""
        access.require(Permission.STORAGE_REVOKE)
        found = self._grant(access, grant)
        with transaction(self._runtime.sessions) as session:
            disable_sync(session, self._runtime.audit, access.actor, access.tenant, found.id)

    def status(self, access: Access) -> list[SyncStatus]:
        """Every sync target of the tenant: state (ok, behind, failing, never-synced), sizes, the last failure."""
        access.require(Permission.AUDIT_READ)
        with self._runtime.sessions() as session:
            return target_status(session, access.tenant, interval=self.interval)

    def run_now(self, access: Access, grant: str) -> SyncOutcome:
        """Sync into `grant` now, whatever its schedule. A failure is recorded on the target (and audited) as in
        the background job, and returned in the outcome."""
        access.require(Permission.STORAGE_REVOKE)
        found = self._grant(access, grant)
        if self._prefix(access.tenant, found.id) is None:
            raise InvalidRequestError(f"tenant {access.tenant!r} does not sync its audit log to grant {found.name}")
        outcome = self.job.sync(access.tenant, found.id)
        if outcome is None:
            raise ConflictError(f"a sync of {access.tenant}'s audit log to grant {found.name} is running; try later")
        return outcome

    def verify_bucket(
        self, access: Access, grant: str, public_keys: Sequence[Ed25519PublicKey], prefix: str | None = None
    ) -> BucketReport:
        """Check the whole synced history in the grant (under the target's prefix unless given), read back
        through the grant, trusting `public_keys` (and the key history the bucket holds, chained to them)."""
        access.require(Permission.AUDIT_READ)
        found = self._grant(access, grant)
        chosen = prefix or self._prefix(access.tenant, found.id) or DEFAULT_PREFIX
        try:
            reader = Prefixed(self.objects(access.tenant, found.id), chosen)
            return verify_bucket(reader, bucket_keys(reader, public_keys))
        except ObjectStoreError as exc:
            raise UnavailableError(f"reading the bucket through grant {found.name}: {exc}") from None
        except KeyHistoryError as exc:
            report = BucketReport()
            report.problems.append(f"{chosen}keys/: {exc}")
            return report

    def readiness(self) -> list[str]:
        """One line per target failing or behind, for the readiness detail (empty: every sync is current)."""
        with self._runtime.sessions() as session:
            return sync_readiness(session, interval=self.interval)
