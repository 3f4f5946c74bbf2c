"""The public key that verifies audit exports, and the key history (public: auditors need them offline)."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse

from enclave.api.models.audit_proofs import KeyHistoryOut
from enclave.http.deps import ServicesDep
from enclave.http.routing import resource_router

router = resource_router(prefix="/audit", tags=["audit"])


@router.get(
    "/public-key",
    response_class=PlainTextResponse,
    summary="Ed25519 public key that verifies exports",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def public_key(services: ServicesDep) -> PlainTextResponse:
    return PlainTextResponse(services.audit.public_key_pem, headers={"X-Enclave-Key-Id": services.audit.key_id})


@router.get(
    "/key-history",
    response_model=KeyHistoryOut,
    summary="The audit signing keys, each valid for its range and vouched for by the one before",
    description="What `enclave audit verify --key-history FILE` takes.",
)
def key_history(services: ServicesDep) -> KeyHistoryOut:
    return KeyHistoryOut.model_validate(services.audit.proofs.key_history())
