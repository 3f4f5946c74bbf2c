"""Stored secrets (the platform operator's): which keys sealed them, and sealing them again under the current
key after a rotation. Neither step shows or logs a secret."""

from __future__ import annotations

from audit.events import Actor
from auth.sealed_columns import ColumnCensus, ResealReport, census, reseal
from enclave.db import transaction
from enclave.runtime import Runtime


class StoredSecrets:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def key_id(self) -> str:
        """The id of the key new values are sealed with."""
        return self._runtime.sealer.key_id

    def census(self) -> list[ColumnCensus]:
        with self._runtime.sessions() as session:
            return census(session, self._runtime.sealer)

    def reseal(self, actor: Actor) -> ResealReport:
        """Every value under an older key sealed again under the current one, in one transaction with its audit
        records (nothing changes if they cannot be written)."""
        with transaction(self._runtime.sessions) as session:
            return reseal(session, self._runtime.audit, actor, self._runtime.sealer)
