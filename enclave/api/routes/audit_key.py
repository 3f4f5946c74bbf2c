"""The public key that verifies audit exports (public: auditors need it offline)."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse

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
