"""`enclave stack ...`: create a tenant's stack file, list stacks, preview them offline.

Mounted by the main CLI as `app.add_typer(stack_app, name="stack")`. The Pulumi SDKs are imported inside the
preview command only, so `enclave --help` stays fast. Bad input exits 2 with one line per problem; a
preview with a mandatory-policy violation exits 1, as `pulumi preview` does with a mandatory pack.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra.cidr import CidrError, allocate, check_free, parse_cidr
from infra.clouds import registration
from infra.sizes import Size
from infra.spec import Cloud, SsoProvider, StorageMode, TenantSpec
from infra.stack_config import (
    StackFileError,
    field_errors,
    new_external_id,
    read_stack,
    required_secrets,
    stack_name,
    stack_path,
    stack_paths,
    used_cidrs,
    write_stack,
)

DEFAULT_DOMAIN = "enclave.example.com"  # replace with the platform's domain via --hostname
EXIT_BAD_INPUT = 2
EXIT_POLICY_VIOLATION = 1
EXIT_PREVIEW_FAILED = 1

stack_app = typer.Typer(
    help="Tenant stacks: create a stack file, list stacks, preview offline.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help wraps at 80 columns; Rich's tables cut option names
)
out = Console()
err = Console(stderr=True)

DirOption = Annotated[Path, typer.Option("--dir", help="Folder holding Pulumi.yaml and the stack files.")]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _existing_external_id(directory: Path, name: str) -> str | None:
    """Keep a re-initialised AWS BYOB stack's ExternalId: the customer's trust policy already names it."""
    try:
        return read_stack(stack_path(directory, name)).storage.external_id
    except StackFileError:
        return None


@stack_app.command()
def init(
    name: Annotated[str, typer.Argument(help="Tenant name: 3-20 lowercase letters, digits and hyphens.")],
    cloud: Annotated[Cloud, typer.Option(help="Where the tenant's stack runs.")],
    region: Annotated[str, typer.Option(help="A region of that cloud.")],
    size: Annotated[Size, typer.Option(help="Capacity preset.")] = Size.SMALL,
    cidr: Annotated[str | None, typer.Option(help="Network block; allocated from 10.0.0.0/8 when omitted.")] = None,
    hostname: Annotated[str | None, typer.Option(help="Gateway DNS name [default: NAME.enclave.example.com].")] = None,
    allow: Annotated[
        list[str] | None, typer.Option("--allow", help="CIDR allowed to reach the gateway (repeat).")
    ] = None,
    private_link_consumer: Annotated[
        list[str] | None, typer.Option(help="Account/project/subscription allowed to connect privately (repeat).")
    ] = None,
    public_ingress: Annotated[bool, typer.Option(help="Internet-facing load balancer (TLS only).")] = True,
    storage: Annotated[StorageMode, typer.Option(help="managed bucket, or the customer's own (byob).")] = (
        StorageMode.MANAGED
    ),
    bucket: Annotated[str | None, typer.Option(help="BYOB: the customer's bucket.")] = None,
    customer_account: Annotated[str | None, typer.Option(help="BYOB: the customer's account/project.")] = None,
    aws_account_id: Annotated[str | None, typer.Option(help="AWS: the account (12 digits) deployed into.")] = None,
    gcp_project: Annotated[str | None, typer.Option(help="GCP: the project the stack runs in.")] = None,
    azure_subscription_id: Annotated[
        str | None, typer.Option(help="Azure: the subscription (GUID) deployed into.")
    ] = None,
    route53_zone_id: Annotated[
        str | None, typer.Option(help="AWS: Route 53 zone holding the hostname (validates the certificate).")
    ] = None,
    operator_cidr: Annotated[
        list[str] | None, typer.Option(help="CIDR operators reach the cluster API from (repeat; private).")
    ] = None,
    allow_public_operator_cidr: Annotated[bool, typer.Option(help="Accept public --operator-cidr ranges.")] = False,
    deletion_protection: Annotated[bool, typer.Option(help="Protect stateful resources from deletion.")] = True,
    sso_provider: Annotated[SsoProvider, typer.Option(help="The tenant's identity provider kind.")] = SsoProvider.OIDC,
    sso_issuer: Annotated[str | None, typer.Option(help="OIDC issuer URL (https://...).")] = None,
    sso_client_id: Annotated[str | None, typer.Option(help="OIDC client id (its secret goes in stack config).")] = None,
    image: Annotated[str | None, typer.Option(help="Gateway container image.")] = None,
    directory: DirOption = Path(),
    force: Annotated[bool, typer.Option(help="Overwrite an existing stack file.")] = False,
) -> None:
    """Validate a tenant spec and write Pulumi.NAME.yaml."""
    if not directory.is_dir():
        fail(f"--dir {directory} is not a folder")
    try:
        used = used_cidrs(directory, exclude=name if force else None)
        network = parse_cidr(cidr) if cidr else allocate(used)
        if cidr:
            check_free(network, used)
    except (CidrError, StackFileError) as exc:
        fail(str(exc))
    external_id = None
    if registration(cloud).byob_external_id and storage is StorageMode.BYOB:
        external_id = (_existing_external_id(directory, name) if force else None) or new_external_id()
    raw: dict[str, Any] = {
        "name": name,
        "cloud": cloud,
        "region": region,
        "size": size,
        "network_cidr": network,
        "hostname": hostname or f"{name}.{DEFAULT_DOMAIN}",
        "deletion_protection": deletion_protection,
        "connectivity": {
            "public_ingress": public_ingress,
            "allowed_cidrs": allow or [],
            "private_link": bool(private_link_consumer),
            "private_link_consumers": private_link_consumer or [],
        },
        "storage": {
            "mode": storage,
            "bucket": bucket,
            "customer_account": customer_account,
            "external_id": external_id,
        },
        "sso": {"provider": sso_provider, "issuer_url": sso_issuer, "client_id": sso_client_id},
        "aws_account_id": aws_account_id,
        "gcp_project": gcp_project,
        "azure_subscription_id": azure_subscription_id,
        "route53_zone_id": route53_zone_id,
        "operator_cidrs": operator_cidr or [],
        "allow_public_operator_cidrs": allow_public_operator_cidr,
    }
    if image:
        raw["gateway_image"] = image
    try:
        spec = TenantSpec.model_validate(raw)
    except ValidationError as exc:
        fail("invalid tenant spec:\n  " + "\n  ".join(field_errors(exc)))
    try:
        path = write_stack(directory, spec, force=force)
    except StackFileError as exc:
        fail(str(exc))
    out.print(f"wrote {path} ({spec.cloud.value} {spec.region}, {spec.size.value}, network {spec.network_cidr})")
    out.print("next: set the stack's secrets, then preview and deploy:")
    for key in required_secrets(spec):
        out.print(f"  pulumi config set --secret -s {spec.name} enclave:{key} <value>", highlight=False)
    out.print(f"  enclave stack preview {spec.name}\n  pulumi up -s {spec.name}", highlight=False)


@stack_app.command()
def preview(
    name: Annotated[str | None, typer.Argument(help="The tenant to preview.")] = None,
    all_stacks: Annotated[bool, typer.Option("--all", help="Preview every stack file in --dir.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Processes for --all.")] = os.cpu_count() or 1,
    directory: DirOption = Path(),
) -> None:
    """Run the stack's program offline under Pulumi mocks: resources, policy verdicts, cost estimate."""
    if all_stacks == (name is not None):
        fail("give a tenant NAME or --all (not both)")
    from infra import preview as offline  # Pulumi SDKs: imported only when a preview runs

    if all_stacks:
        if not stack_paths(directory):
            fail(f"no Pulumi.*.yaml stack files in {directory}")
        if as_json:
            results = offline.preview_fleet(directory, workers)
            typer.echo(json.dumps({"stacks": results}, indent=2))
        else:
            results = offline.preview_fleet_with_progress(directory, workers, out)
            out.print(offline.fleet_table(results))
            for result in results:
                if "error" in result:
                    out.print(f"[red]{result['tenant']}:[/] {escape(result['error'])}", soft_wrap=True)
        if not all(r["passed"] for r in results):
            raise typer.Exit(EXIT_POLICY_VIOLATION)
        return
    assert name is not None
    try:
        spec = read_stack(stack_path(directory, name))
    except StackFileError as exc:
        fail(str(exc))
    try:
        report = offline.preview_spec(spec)
    except Exception as exc:  # the program itself failed: say why in one line, as the fleet preview does
        fail(f"the preview of {name} failed: {offline.root_cause(exc)}", EXIT_PREVIEW_FAILED)
    if as_json:
        typer.echo(json.dumps(offline.report_json(report), indent=2))
    else:
        offline.render(report, out)
    if not report.passed:
        raise typer.Exit(EXIT_POLICY_VIOLATION)


@stack_app.command("list")
def list_stacks(directory: DirOption = Path()) -> None:
    """The tenant stacks in --dir."""
    table = Table(title=f"Tenant stacks in {directory.resolve()}")
    for column in ("tenant", "cloud", "region", "size", "network", "hostname"):
        table.add_column(column)
    for path in stack_paths(directory):
        try:
            spec = read_stack(path)
        except StackFileError as exc:
            table.add_row(stack_name(path), f"[red]{exc}[/]", "", "", "", "")
            continue
        table.add_row(spec.name, spec.cloud.value, spec.region, spec.size.value, str(spec.network_cidr), spec.hostname)
    out.print(table)
