"""`enclave audit prove | key-history | rotate-key | seal`: proofs against the tenant's signed tree head, and the
operator's acts on the signing key and on a log written before signed tree heads existed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from enclave.cli.audit.app import audit_app
from enclave.cli.audit.verify import read_file
from enclave.cli.common import (
    TenantOption,
    cli_actor,
    console,
    fail,
    opened_services,
    operator_access,
    parse_time,
    usage,
)


@audit_app.command("prove")
def audit_prove(
    tenant: TenantOption,
    inclusion: Annotated[
        int | None, typer.Option(metavar="SEQ", help="prove that record SEQ is in the current signed tree")
    ] = None,
    consistency: Annotated[
        int | None,
        typer.Option(metavar="OLD_SIZE", help="prove that the current tree extends the one of OLD_SIZE records"),
    ] = None,
) -> None:
    """Print an RFC 9162 inclusion or consistency proof (JSON) against the tenant's current signed tree head;
    `enclave audit verify --proof FILE` checks it offline."""
    from audit.verify_proofs import proof_bytes

    if (inclusion is None) == (consistency is None):
        usage("give --inclusion SEQ or --consistency OLD_SIZE (one of them)")
    asked = inclusion if inclusion is not None else consistency
    if asked is None or asked < 1:
        usage(f"{'--inclusion' if inclusion is not None else '--consistency'} must be 1 or more")
    with opened_services() as services:
        access = operator_access(services, tenant)
        proofs = services.audit.proofs
        proof = proofs.inclusion(access, asked) if inclusion is not None else proofs.consistency(access, asked)
    sys.stdout.buffer.write(proof_bytes(proof))
    sys.stdout.flush()


@audit_app.command("key-history")
def audit_key_history() -> None:
    """Print the published key history (JSON): each signing key with its validity, vouched for by the one
    before. Verifiers take it with `enclave audit verify --key-history FILE`."""
    from audit.canonical import canonical_bytes

    with opened_services() as services:
        document = services.audit.proofs.key_history()
    sys.stdout.buffer.write(canonical_bytes(document) + b"\n")
    sys.stdout.flush()


@audit_app.command("rotate-key")
def audit_rotate_key(
    new_key_file: Annotated[
        Path, typer.Option(metavar="PEM_FILE", help="the new private key (`enclave audit keygen`), kept secret")
    ],
    at: Annotated[
        str, typer.Option(metavar="TIME", help="when the new key takes over (ISO 8601, UTC if no zone; future)")
    ],
) -> None:
    """Publish a new signing key in the key history, vouched for by the configured (current) key; audited in
    every tenant's log. Then set ENCLAVE_AUDIT_SIGNING_KEY to the new key and restart every replica before
    TIME."""
    from audit.signing import SigningKeyError, load_private_key

    valid_from = parse_time(at, "--at")
    assert valid_from is not None
    if valid_from <= datetime.now(UTC):
        usage("--at must be in the future: every replica switches to the new key before it")
    try:
        new_key = load_private_key(read_file(new_key_file, "the new key").decode("utf-8"))
    except (SigningKeyError, UnicodeDecodeError):
        fail(f"{new_key_file}: not an Ed25519 private key (make one with `enclave audit keygen`)")
    with opened_services() as services:
        entry = services.audit.proofs.rotate_key(cli_actor(), new_key, valid_from)
    console.print(
        f"key {entry.key_id} published as entry {entry.position} of the key history, taking over at "
        f"{valid_from.isoformat()}; set ENCLAVE_AUDIT_SIGNING_KEY to it and restart every replica before then",
        highlight=False,
    )


@audit_app.command("seal")
def audit_seal(tenant: TenantOption) -> None:
    """Sign a first tree head over a log written before signed tree heads existed (migration 0004). Trust on
    first use: check an export made with the previous release first. Audited as audit.sealed."""
    with opened_services() as services:
        sealed = services.audit.proofs.seal(operator_access(services, tenant))
    console.print(
        f"sealed the audit log of {tenant}: tree head over {sealed.seq} records (root {sealed.root[:16]}…) signed "
        f"by key {sealed.key_id}",
        highlight=False,
    )
