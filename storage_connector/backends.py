"""The storage backend registry: every store Enclave signs URLs for registers here once.

A registration names the backend's grant model (a `GrantSpecBase` subclass: one model for the API, the CLI and
the domain), how a signer is opened for one of its grants, why this gateway could not sign for it at all (its
availability), the operations it has no signed URL for (with what to use instead), and whether its trust needs
an ExternalId Enclave generated. Everything that used to pick a backend with an if-ladder asks the registry.
Adding a backend: its module (grant model, signer, `open_signer`, `unavailable`, `UNSUPPORTED`), a `Backend`
member, and one `_register` here — as infra/clouds.py does for the clouds Enclave deploys to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Union, cast

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from storage_connector import azure, gcs, local, s3
from storage_connector.grants import MAX_REASON, REASON_PATTERN, Backend, Grant, GrantError
from storage_connector.platform import PlatformCredentials
from storage_connector.signer import Operation, Signer
from storage_connector.spec import GrantSpecBase

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class BackendRegistration:
    backend: Backend
    title: str  # for messages: "S3"
    spec: type[GrantSpecBase]  # the grant's fields, validated once for every caller
    open_signer: Callable[[Grant, PlatformCredentials, Clock], Signer]
    unavailable: Callable[[PlatformCredentials, GrantSpecBase], str | None]  # why this gateway cannot sign for it
    unsupported: Mapping[Operation, str]  # operations without a signed URL, and what to do instead
    external_id: bool = False  # the customer's trust requires an ExternalId Enclave generated for the tenant

    def refuses(self, operation: Operation) -> str | None:
        """Why `operation` has no signed URL on this store (None: it has one)."""
        return self.unsupported.get(operation)


REGISTRY: dict[Backend, BackendRegistration] = {}


def _register(registration: BackendRegistration) -> None:
    if registration.backend in REGISTRY:
        raise ValueError(f"backend {registration.backend} registered twice")
    REGISTRY[registration.backend] = registration


_register(BackendRegistration(Backend.S3, "S3", s3.S3GrantSpec, s3.open_signer, s3.unavailable, s3.UNSUPPORTED, True))
_register(BackendRegistration(Backend.GCS, "GCS", gcs.GcsGrantSpec, gcs.open_signer, gcs.unavailable, gcs.UNSUPPORTED))
_register(
    BackendRegistration(
        Backend.AZURE, "Azure", azure.AzureGrantSpec, azure.open_signer, azure.unavailable, azure.UNSUPPORTED
    )
)
_register(
    BackendRegistration(
        Backend.LOCAL, "local", local.LocalGrantSpec, local.open_signer, local.unavailable, local.UNSUPPORTED
    )
)


def registration(backend: Backend | str) -> BackendRegistration:
    return REGISTRY[Backend(backend)]


def _discriminated(models: list[type[BaseModel]]) -> Any:
    return Annotated[Union[tuple(models)], Field(discriminator="backend")]  # noqa: UP007 (built at run time)


class _Reason(BaseModel):
    reason: str | None = Field(
        None, max_length=MAX_REASON, pattern=REASON_PATTERN, description="why (recorded in the audit log)"
    )


def _connect_model(spec: type[GrantSpecBase]) -> type[GrantSpecBase]:
    """The API's body for connecting a grant of this backend: its fields and the reason for the change."""
    name = spec.__name__.replace("Spec", "In")
    return cast("type[GrantSpecBase]", create_model(name, __base__=(spec, _Reason), __module__=spec.__module__))


if TYPE_CHECKING:
    GrantSpec = GrantSpecBase
    GrantConnectIn = GrantSpecBase
else:
    # Any registered backend's grant, told apart by `backend`; and the same with the reason for connecting it.
    GrantSpec = _discriminated([r.spec for r in REGISTRY.values()])
    GrantConnectIn = _discriminated([_connect_model(r.spec) for r in REGISTRY.values()])
_SPECS: TypeAdapter[GrantSpecBase] = TypeAdapter(GrantSpec)


def parse_spec(values: Mapping[str, Any]) -> GrantSpecBase:
    """A grant from plain values (the CLI's options, a benchmark's dict); GrantError naming each problem."""
    try:
        return _SPECS.validate_python(dict(values))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'][1:])) or 'grant'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise GrantError(problems) from None


def connect_reason(body: GrantSpecBase) -> str | None:
    """The reason a connect request (GrantConnectIn) carries."""
    reason = getattr(body, "reason", None)
    return reason if isinstance(reason, str) else None
