"""The CA bundle the gateway verifies a data service with, from the CA certificates the instance lists
(Cloud SQL `serverCaCerts`, Memorystore `serverCaCerts`). Every listed CA goes in, so verification keeps
working across a CA rotation, when the instance lists the new CA beside the old one until clients trust both."""

from __future__ import annotations

from collections.abc import Sequence

PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


def server_ca_bundle(certs: Sequence[str | None], service: str) -> str:
    """PEM certificates joined, each ending in a newline. None at all, or something that is not a PEM
    certificate, is an error: the gateway never falls back to an unverified connection."""
    present = [cert for cert in certs if cert]
    if not present:
        raise ValueError(f"the {service} instance returned no server CA certificate")
    for cert in present:
        if not cert.lstrip().startswith(PEM_BEGIN):
            raise ValueError(f"the {service} instance returned a server CA that is not a PEM certificate")
    return "".join(cert if cert.endswith("\n") else f"{cert}\n" for cert in present)
