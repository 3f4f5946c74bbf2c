"""The audit log's signed statements as their readers use them: inclusion and consistency proofs against the
tenant's current signed tree head (`audit.read`), the published key history (public, like the public key), and
the operator's acts on the signing itself: rotating the key (every tenant's log records it) and sealing a log
written before signed tree heads existed."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.canonical import JsonValue
from audit.checkpoints import Checkpoint
from audit.events import Actor, ActorKind, AuditEvent
from audit.keys import KeyEntry, KeyHistoryError
from audit.store.key_history import key_history_document, rotate_key
from audit.store.proving import prove_consistency, prove_inclusion
from audit.treeproofs import ConsistencyProof, InclusionProof
from auth.roles import Permission
from auth.tenants import list_tenants
from enclave.db import transaction
from enclave.runtime import Runtime
from enclave.services.access import Access
from tenancy.errors import ConflictError, ForbiddenError, InvalidRequestError


def require_operator(access: Access, act: str) -> None:
    """Acts on the signing itself are the platform operator's, at the command line."""
    if access.principal.kind is not ActorKind.OPERATOR:
        raise ForbiddenError(f"{act} is the platform operator's: `enclave audit ...`")


class AuditProofs:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def inclusion(self, access: Access, seq: int) -> InclusionProof:
        """Record `seq` of the tenant's log and its RFC 9162 audit path to the current signed tree head."""
        access.require(Permission.AUDIT_READ)
        with self._runtime.sessions() as session:
            return prove_inclusion(session, access.tenant, seq)

    def consistency(self, access: Access, old_size: int) -> ConsistencyProof:
        """The RFC 9162 proof that the tenant's current signed tree head extends its tree of `old_size` records."""
        access.require(Permission.AUDIT_READ)
        with self._runtime.sessions() as session:
            return prove_consistency(session, access.tenant, old_size)

    def key_history(self) -> dict[str, JsonValue]:
        """The signing keys with their validity, each vouched for by the one before (public: verifiers need it)."""
        with self._runtime.sessions() as session:
            return key_history_document(session)

    def rotate_key(self, actor: Actor, new_key: Ed25519PrivateKey, valid_from: datetime) -> KeyEntry:
        """Publish `new_key`, taking over at `valid_from`, vouched for by the configured key (the history's
        newest); every tenant's log records `audit.key.rotated` in the same transaction."""
        with transaction(self._runtime.sessions) as session:
            tenants = [tenant.id for tenant in list_tenants(session)]
            try:
                return rotate_key(
                    session, self._runtime.audit, actor, self._runtime.signing_key, new_key, valid_from, tenants
                )
            except KeyHistoryError as exc:
                raise InvalidRequestError(str(exc)) from None

    def seal(self, access: Access) -> Checkpoint:
        """Sign a first tree head over a log written before signed tree heads existed (trust on first use, after
        the operator checked an export made before the upgrade); recorded as `audit.sealed` under it."""
        require_operator(access, "sealing an audit log")
        with transaction(self._runtime.sessions) as session:
            try:
                sealed = self._runtime.audit.seal(session, access.tenant)
            except ValueError as exc:
                raise ConflictError(str(exc)) from None
            self._runtime.audit.append(
                session,
                AuditEvent(
                    tenant=access.tenant,
                    actor=access.actor,
                    action="audit.sealed",
                    target=f"tenant:{access.tenant}",
                    details={"size": sealed.seq, "root": sealed.root, "key_id": sealed.key_id},
                ),
            )
        return sealed
