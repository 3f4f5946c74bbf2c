"""`enclave storage connect | list | status | revoke | restore`: storage grants from the command line, and
the one place that wires the storage connector to a gateway runtime (the API uses it too)."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from enclave.cli_output import cli_table

if TYPE_CHECKING:
    from enclave.runtime import Runtime
    from enclave.settings import Settings
    from storage_connector.platform import PlatformCredentials
    from storage_connector.service import StorageService

storage_app = typer.Typer(no_args_is_help=True, help="Storage grants on customer buckets: connect, revoke, restore.")
LOCAL_KEY_FILE = "storage-local-key.bin"


def local_signing_key(settings: Settings) -> bytes:
    from storage_connector.local import load_or_create_key

    if settings.storage_local_signing_key is not None:
        try:
            key = base64.b64decode(settings.storage_local_signing_key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("storage_local_signing_key must be base64") from None
        if len(key) < 32:
            raise ValueError("storage_local_signing_key must be at least 32 bytes")
        return key
    return load_or_create_key(Path(settings.data_dir) / LOCAL_KEY_FILE)


def platform_credentials(settings: Settings) -> PlatformCredentials:
    from storage_connector.platform import PlatformCredentials

    scheme = "https" if settings.tls_cert_file else "http"
    return PlatformCredentials(
        local_key=local_signing_key(settings),
        local_base_url=(
            settings.storage_local_base_url or settings.public_url or f"{scheme}://{settings.host}:{settings.port}"
        ),
        local_max_upload_bytes=settings.storage_local_max_upload_bytes,
        gcs_key_file=settings.storage_gcs_key_file,
        azure_account_key=(
            settings.storage_azure_account_key.get_secret_value() if settings.storage_azure_account_key else None
        ),
        aws_identity=settings.storage_platform_identity if settings.storage_cloud == "aws" else None,
    )


def local_store_dir(settings: Settings) -> Path:
    return settings.storage_local_dir or Path(settings.data_dir) / "objects"


def open_storage_service(runtime: Runtime) -> StorageService:
    from storage_connector.factory import Signers
    from storage_connector.revocation import GrantStates
    from storage_connector.service import StorageService

    return StorageService(
        runtime.sessions,
        runtime.audit,
        runtime.appender,
        GrantStates(runtime.sessions, runtime.cache),
        Signers(platform_credentials(runtime.settings)),
    )


def _fail(message: str) -> NoReturn:
    from enclave.cli import fail

    fail(message)


@storage_app.command("connect")
def connect(
    tenant: Annotated[str, typer.Argument(help="the tenant the grant belongs to")],
    backend: Annotated[str, typer.Option(help="s3, gcs, azure or local")],
    bucket: Annotated[str, typer.Option(help="bucket, container, or (local) directory name")],
    prefix: Annotated[str, typer.Option(help="the tenant's prefix in the bucket")] = "",
    name: Annotated[str, typer.Option(help="the grant's name within the tenant")] = "default",
    region: Annotated[str | None, typer.Option(help="S3: the bucket's region")] = None,
    endpoint: Annotated[str | None, typer.Option(help="S3-compatible / emulator endpoint, or GCS bound host")] = None,
    role_arn: Annotated[str | None, typer.Option(help="S3: the customer's role")] = None,
    external_id: Annotated[
        str | None, typer.Option(help="S3: the ExternalId Enclave generated for the grant (default: that one)")
    ] = None,
    gcs_url_style: Annotated[str | None, typer.Option(help="GCS: path, virtual-hosted or bucket-bound")] = None,
    azure_account: Annotated[str | None, typer.Option(help="Azure: the storage account")] = None,
    azure_auth: Annotated[str | None, typer.Option(help="Azure: stored-policy or user-delegation")] = None,
    azure_policy_id: Annotated[str | None, typer.Option(help="Azure: the stored access policy's id")] = None,
    ttl_default: Annotated[int | None, typer.Option(help="default URL lifetime, seconds (default 900)")] = None,
    ttl_max: Annotated[int | None, typer.Option(help="longest URL lifetime, seconds (at most 3600)")] = None,
    reason: Annotated[str | None, typer.Option(help="why (recorded in the audit log)")] = None,
) -> None:
    """Register a customer's bucket access grant for a tenant (audited)."""
    from enclave.cli import cli_actor, console, opened_runtime
    from storage_connector.backends import parse_spec
    from storage_connector.grants import GrantError
    from tenancy.errors import DomainError

    values: dict[str, Any] = {
        "name": name,
        "backend": backend,
        "bucket": bucket,
        "prefix": prefix,
        "region": region,
        "endpoint": endpoint,
        "role_arn": role_arn,
        "external_id": external_id,
        "gcs_url_style": gcs_url_style,
        "azure_account": azure_account,
        "azure_auth": azure_auth,
        "azure_policy_id": azure_policy_id,
        "ttl_default_seconds": ttl_default,
        "ttl_max_seconds": ttl_max,
    }
    try:
        spec = parse_spec({k: v for k, v in values.items() if v is not None})
    except GrantError as exc:
        _fail(str(exc))
    with opened_runtime() as runtime:
        try:
            grant = open_storage_service(runtime).connect(cli_actor(), tenant, spec, reason)
        except DomainError as exc:
            _fail(str(exc))
    console.print(
        f"grant [bold]{grant.name}[/] ({grant.id}) connected for tenant [bold]{tenant}[/]: "
        f"{grant.backend.value}://{grant.bucket}/{grant.prefix}"
    )


@storage_app.command("list")
def list_(tenant: Annotated[str, typer.Argument(help="the tenant")]) -> None:
    """List a tenant's storage grants."""
    from enclave.cli import console, opened_runtime
    from storage_connector.grants import list_grants

    with opened_runtime() as runtime, runtime.sessions() as session:
        grants = list_grants(session, tenant)
    table = cli_table("id", "name", "backend", "bucket", "prefix", "region / endpoint", "TTL default/max (s)", "status")
    for g in grants:
        ttl = f"{int(g.ttl.default.total_seconds())}/{int(g.ttl.maximum.total_seconds())}"
        table.add_row(
            g.id, g.name, g.backend.value, g.bucket, g.prefix, g.region or g.endpoint or "", ttl, g.status.value
        )
    console.print(table)


@storage_app.command("status")
def status(tenant: Annotated[str, typer.Argument(help="the tenant")]) -> None:
    """Whether each grant issues URLs now, why not, and what the last access probe found."""
    from enclave.cli import console, opened_runtime

    with opened_runtime() as runtime:
        states = open_storage_service(runtime).status(tenant)
    table = cli_table("grant", "backend", "status", "since (UTC)", "by", "reason", "last probe")
    for state in states:
        g = state.grant
        probe = f"{g.probe_status} {g.probed_at:%H:%M:%S}: {g.probe_detail}" if g.probed_at else "not yet"
        table.add_row(
            g.name,
            g.backend.value,
            state.status.value,
            f"{g.status_changed_at:%Y-%m-%d %H:%M:%S}",
            g.status_changed_by,
            g.status_reason or "",
            probe,
        )
    console.print(table if states else f"tenant {tenant} has no storage grants")


def _change(tenant: str, grant: str | None, reason: str | None, *, restore: bool) -> None:
    from enclave.cli import cli_actor, console, opened_runtime
    from storage_connector.grants import GrantError

    with opened_runtime() as runtime:
        service = open_storage_service(runtime)
        try:
            change = service.restore if restore else service.revoke
            changed, fanned_out = change(cli_actor(), tenant, grant, reason)
        except GrantError as exc:
            _fail(str(exc))
    verb = "restored" if restore else "revoked"
    if not changed:
        console.print(f"nothing to do: no {'revoked' if restore else 'active'} grant matched")
        return
    for g in changed:
        console.print(f"grant [bold]{g.name}[/] ({g.id}) of tenant [bold]{tenant}[/] {verb}")
    if not fanned_out:
        console.print("[yellow]warning:[/] Redis could not be told; replicas see the change within 10 s")


@storage_app.command("revoke")
def revoke(
    tenant: Annotated[str, typer.Argument(help="the tenant")],
    reason: Annotated[str, typer.Option(help="why (recorded in the audit log)")],
    grant: Annotated[str | None, typer.Option(help="one grant (id or name); default: all of the tenant's")] = None,
) -> None:
    """Stop URL issuance for a tenant's grant(s) on every gateway replica at once (audited)."""
    _change(tenant, grant, reason, restore=False)


@storage_app.command("restore")
def restore(
    tenant: Annotated[str, typer.Argument(help="the tenant")],
    reason: Annotated[str, typer.Option(help="why (recorded in the audit log)")],
    grant: Annotated[str | None, typer.Option(help="one grant (id or name); default: all of the tenant's")] = None,
) -> None:
    """Allow issuance again for revoked grant(s), including those the probe found revoked (audited)."""
    _change(tenant, grant, reason, restore=True)
