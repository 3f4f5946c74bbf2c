"""`enclave storage connect | list | status | revoke | restore`: storage grants on customer buckets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from enclave.cli.common import (
    TYPER_OPTIONS,
    JsonOption,
    TenantOption,
    console,
    opened_services,
    operator_access,
    print_json,
    print_table,
    table,
    usage,
)

storage_app = typer.Typer(help="Storage grants on customer buckets: connect, revoke, restore.", **TYPER_OPTIONS)
ReasonOption = Annotated[str, typer.Option(metavar="REASON", help="why (recorded in the audit log)")]
GrantOption = Annotated[
    str | None, typer.Option(metavar="GRANT", help="one grant (id or name); default: all of the tenant's")
]


@storage_app.command("connect")
def connect(
    tenant: TenantOption,
    backend: Annotated[str, typer.Option(metavar="BACKEND", help="s3, gcs, azure or local")],
    bucket: Annotated[str, typer.Option(metavar="BUCKET", help="bucket, container, or (local) directory name")],
    prefix: Annotated[str, typer.Option(metavar="PREFIX", help="the tenant's prefix in the bucket")] = "",
    name: Annotated[str, typer.Option(metavar="NAME", help="the grant's name within the tenant")] = "default",
    region: Annotated[str | None, typer.Option(metavar="REGION", help="S3: the bucket's region")] = None,
    endpoint: Annotated[
        str | None, typer.Option(metavar="URL", help="S3-compatible / emulator endpoint, or GCS bound host")
    ] = None,
    role_arn: Annotated[str | None, typer.Option(metavar="ARN", help="S3: the customer's role")] = None,
    external_id: Annotated[
        str | None,
        typer.Option(metavar="ID", help="S3: the ExternalId Enclave generated for the grant (default: that one)"),
    ] = None,
    gcs_url_style: Annotated[
        str | None, typer.Option(metavar="STYLE", help="GCS: path (default), virtual-hosted or bucket-bound")
    ] = None,
    azure_account: Annotated[str | None, typer.Option(metavar="ACCOUNT", help="Azure: the storage account")] = None,
    azure_auth: Annotated[
        str | None, typer.Option(metavar="AUTH", help="Azure: stored-policy (default) or user-delegation")
    ] = None,
    azure_policy_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Azure: the stored access policy's id")
    ] = None,
    ttl_default: Annotated[
        int | None, typer.Option(metavar="SECONDS", help="default URL lifetime (default 900)")
    ] = None,
    ttl_max: Annotated[
        int | None, typer.Option(metavar="SECONDS", help="longest URL lifetime (at most 3600, the default)")
    ] = None,
    reason: Annotated[str | None, typer.Option(metavar="REASON", help="why (recorded in the audit log)")] = None,
) -> None:
    """Register a customer's bucket access grant for a tenant (audited)."""
    from storage_connector.backends import parse_spec
    from storage_connector.grants import GrantError

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
        usage(str(exc))
    with opened_services() as services:
        grant = services.storage.connect(operator_access(services, tenant), spec, reason)
    console.print(
        f"grant [bold]{grant.name}[/] ({grant.id}) connected for tenant [bold]{tenant}[/]: "
        f"{grant.backend.value}://{grant.bucket}/{grant.prefix}"
    )


@storage_app.command("external-id")
def external_id(
    tenant: TenantOption,
    grant: Annotated[str, typer.Option(metavar="GRANT", help="the grant's name")] = "default",
    as_json: JsonOption = False,
) -> None:
    """The ExternalId the customer's AWS role must require for this grant: generated once by Enclave (never
    chosen by the customer), the same on every ask. Customer IT puts it in the BYOB kit's `external_id`."""
    with opened_services() as services:
        found = services.storage.external_id(operator_access(services, tenant), grant)
    if as_json:
        print_json(
            {
                "tenant": found.tenant,
                "grant": found.grant,
                "external_id": found.value,
                "created_at": found.created_at,
                "created": found.created,
            }
        )
        return
    print(found.value)  # stdout alone, for `terraform.tfvars` or a script


@storage_app.command("list")
def list_(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List a tenant's storage grants."""
    with opened_services() as services:
        states = services.storage.status(operator_access(services, tenant))
    grants = [state.grant for state in states]
    if as_json:
        print_json(
            [
                {
                    "id": g.id,
                    "name": g.name,
                    "backend": g.backend.value,
                    "bucket": g.bucket,
                    "prefix": g.prefix,
                    "region": g.region,
                    "endpoint": g.endpoint,
                    "ttl_default_seconds": int(g.ttl.default.total_seconds()),
                    "ttl_max_seconds": int(g.ttl.maximum.total_seconds()),
                    "status": g.status.value,
                }
                for g in grants
            ]
        )
        return
    rows = table("id", "name", "backend", "bucket", "prefix", "region / endpoint", "TTL default/max (s)", "status")
    for g in grants:
        ttl = f"{int(g.ttl.default.total_seconds())}/{int(g.ttl.maximum.total_seconds())}"
        rows.add_row(
            g.id, g.name, g.backend.value, g.bucket, g.prefix, g.region or g.endpoint or "", ttl, g.status.value
        )
    print_table(rows)


@storage_app.command("status")
def status(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """Whether each grant issues URLs now, why not, and what the last access probe found."""
    with opened_services() as services:
        states = services.storage.status(operator_access(services, tenant))
    if as_json:
        print_json(
            [
                {
                    "grant": s.grant.name,
                    "id": s.grant.id,
                    "backend": s.grant.backend.value,
                    "status": s.status.value,
                    "since": s.grant.status_changed_at,
                    "by": s.grant.status_changed_by,
                    "reason": s.grant.status_reason,
                    "probe": {
                        "status": s.grant.probe_status,
                        "at": s.grant.probed_at,
                        "detail": s.grant.probe_detail,
                    },
                }
                for s in states
            ]
        )
        return
    if not states:
        console.print(f"tenant {tenant} has no storage grants")
        return
    rows = table("grant", "backend", "status", "since (UTC)", "by", "reason", "last probe")
    for state in states:
        g = state.grant
        probe = f"{g.probe_status} {g.probed_at:%H:%M:%S}: {g.probe_detail}" if g.probed_at else "not yet"
        rows.add_row(
            g.name,
            g.backend.value,
            state.status.value,
            f"{g.status_changed_at:%Y-%m-%d %H:%M:%S}",
            g.status_changed_by,
            g.status_reason or "",
            probe,
        )
    print_table(rows)


def _change(tenant: str, grant: str | None, reason: str, *, restore: bool) -> None:
    with opened_services() as services:
        access = operator_access(services, tenant)
        change = services.storage.restore if restore else services.storage.revoke
        changed, fanned_out = change(access, grant, reason)
    verb = "restored" if restore else "revoked"
    if not changed:
        console.print(f"nothing to do: no {'revoked' if restore else 'active'} grant matched")
        return
    for g in changed:
        console.print(f"grant [bold]{g.name}[/] ({g.id}) of tenant [bold]{tenant}[/] {verb}")
    if not fanned_out:
        console.print("[yellow]warning:[/] Redis could not be told; replicas see the change within 10 s")


@storage_app.command("revoke")
def revoke(tenant: TenantOption, reason: ReasonOption, grant: GrantOption = None) -> None:
    """Stop URL issuance for a tenant's grant(s) on every gateway replica at once (audited)."""
    _change(tenant, grant, reason, restore=False)


@storage_app.command("restore")
def restore(tenant: TenantOption, reason: ReasonOption, grant: GrantOption = None) -> None:
    """Allow issuance again for revoked grant(s), including those the probe found revoked (audited)."""
    _change(tenant, grant, reason, restore=True)
