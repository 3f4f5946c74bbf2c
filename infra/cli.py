"""`enclave stack ...`: create a tenant's stack file, list stacks, preview them offline.

Mounted by the main CLI as `app.add_typer(stack_app, name="stack")`. The Pulumi SDKs are imported inside the
preview command only, so `enclave --help` stays fast. Exit codes (docs/CONVENTIONS): 0 ok; 1 a failure (no such
stack, a stack file that is already there or whose network overlaps another's, a preview that failed or found
a mandatory-policy violation, as `pulumi preview` does with a mandatory pack); 2 a bad option value. Every error
is one line per problem on stderr naming the option, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
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
from infra.spec_warnings import spec_warnings
from infra.stack_config import (
    StackFileError,
    new_external_id,
    next_steps,
    read_stack,
    stack_name,
    stack_path,
    stack_paths,
    used_cidrs,
    write_stack,
)
from tenancy.names import check_tenant_name

DEFAULT_DOMAIN = "enclave.example.com"  # replace with the platform's domain via --hostname
EXIT_FAILED = 1  # not found, refused, preview failed, policy violation
EXIT_USAGE = 2  # a bad option value

stack_app = typer.Typer(
    help="Tenant stacks: create a stack file, list stacks, preview offline.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help wraps at 80 columns; Rich's tables cut option names
)
out = Console()
err = Console(stderr=True)

# The option that sets each TenantSpec field, so an error names what the operator typed.
FIELD_OPTIONS = {
    "name": "--tenant",
    "region": "--region",
    "network_cidr": "--cidr",
    "hostname": "--hostname",
    "connectivity.allowed_cidrs": "--allow",
    "connectivity.egress_cidrs": "--egress-cidr",
    "connectivity.private_link_consumers": "--private-link-consumer",
    "connectivity.public_ingress": "--public-ingress",
    "storage.bucket": "--bucket",
    "storage.customer_account": "--customer-account",
    "sso.issuer_url": "--sso-issuer",
    "sso.client_id": "--sso-client-id",
    "gateway_image": "--image",
    "aws_account_id": "--aws-account-id",
    "gcp_project": "--gcp-project",
    "azure_subscription_id": "--azure-subscription-id",
    "route53_zone_id": "--route53-zone-id",
    "operator_cidrs": "--operator-cidr",
    "allow_public_operator_cidrs": "--allow-public-operator-cidr",
    "azure_operator_group_ids": "--azure-operator-group",
}
# Field names a message may mention (`gcp_project is required ...`): the compound ones, never plain words.
_FIELD_WORDS = re.compile(
    r"(?<![\w.-])("
    + "|".join(re.escape(f) for f in sorted(FIELD_OPTIONS, key=len, reverse=True) if "_" in f or "." in f)
    + r")(?![\w-])"
)

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        metavar="DIR",
        exists=True,
        file_okay=False,
        help="Folder holding Pulumi.yaml and the stack files.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def option_errors(exc: ValidationError) -> list[str]:
    """One line per problem, naming the option rather than the spec field:
    `--region: region 'mars-1' is not supported on aws; choose one of: ...`."""
    lines = []
    for error in exc.errors():
        parts = [str(part) for part in error["loc"]]
        where = next(
            (
                FIELD_OPTIONS[".".join(parts[:n])]
                for n in range(len(parts), 0, -1)
                if ".".join(parts[:n]) in FIELD_OPTIONS
            ),
            ".".join(parts),
        )
        if error["type"] == "string_pattern_mismatch":
            message = f"{error['input']!r} is not valid (expected {error['ctx']['pattern']})"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        message = _FIELD_WORDS.sub(lambda m: FIELD_OPTIONS[m.group(1)], message)
        message = re.sub(r"(--[a-z0-9-]+) \(\1\)", r"\1", message)  # "--x (--x)" once a field became its option
        lines.append(f"{where}: {message}" if where else message)
    return lines


def tenant_name(value: str) -> str:
    """A --tenant value, checked before it becomes part of a file name."""
    try:
        return check_tenant_name(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def optional_tenant_name(value: str | None) -> str | None:
    return None if value is None else tenant_name(value)


def _existing_external_id(directory: Path, name: str) -> str | None:
    """Keep a re-initialised AWS BYOB stack's ExternalId: the customer's trust policy already names it."""
    try:
        return read_stack(stack_path(directory, name)).storage.external_id
    except StackFileError:
        return None


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


@stack_app.command()
def init(
    tenant: Annotated[
        str,
        typer.Option(
            "--tenant",
            metavar="TENANT",
            callback=tenant_name,
            help="Tenant name: 3-20 lowercase letters, digits and hyphens.",
        ),
    ],
    cloud: Annotated[Cloud, typer.Option(metavar="aws|gcp|azure", help="Where the tenant's stack runs.")],
    region: Annotated[str, typer.Option(metavar="REGION", help="A region of that cloud.")],
    size: Annotated[Size, typer.Option(metavar="small|medium|large", help="Capacity preset.")] = Size.SMALL,
    cidr: Annotated[
        str | None, typer.Option(metavar="CIDR", help="Network block; allocated from 10.0.0.0/8 when omitted.")
    ] = None,
    hostname: Annotated[
        str | None, typer.Option(metavar="HOST", help="Gateway DNS name [default: TENANT.enclave.example.com].")
    ] = None,
    allow: Annotated[
        list[str] | None, typer.Option("--allow", metavar="CIDR", help="CIDR allowed to reach the gateway (repeat).")
    ] = None,
    egress_cidr: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CIDR",
            help="Range outside the cloud the gateway calls on 443: the identity provider's (repeat).",
        ),
    ] = None,
    private_link_consumer: Annotated[
        list[str] | None,
        typer.Option(metavar="ACCOUNT", help="Account/project/subscription allowed to connect privately (repeat)."),
    ] = None,
    public_ingress: Annotated[bool, typer.Option(help="Internet-facing load balancer (TLS only).")] = True,
    storage: Annotated[
        StorageMode, typer.Option(metavar="managed|byob", help="managed bucket, or the customer's own (byob).")
    ] = StorageMode.MANAGED,
    bucket: Annotated[str | None, typer.Option(metavar="BUCKET", help="BYOB: the customer's bucket.")] = None,
    customer_account: Annotated[
        str | None, typer.Option(metavar="ACCOUNT", help="BYOB: the customer's account/project.")
    ] = None,
    aws_account_id: Annotated[
        str | None, typer.Option(metavar="ACCOUNT_ID", help="AWS: the account (12 digits) deployed into.")
    ] = None,
    gcp_project: Annotated[
        str | None, typer.Option(metavar="PROJECT", help="GCP: the project the stack runs in.")
    ] = None,
    azure_subscription_id: Annotated[
        str | None, typer.Option(metavar="SUBSCRIPTION_ID", help="Azure: the subscription (GUID) deployed into.")
    ] = None,
    azure_operator_group: Annotated[
        list[str] | None,
        typer.Option(
            metavar="GROUP_ID",
            help="Azure: Entra ID group (object id) administering the cluster's Kubernetes API (repeat).",
        ),
    ] = None,
    route53_zone_id: Annotated[
        str | None,
        typer.Option(metavar="ZONE_ID", help="AWS: Route 53 zone holding the hostname (validates the certificate)."),
    ] = None,
    operator_cidr: Annotated[
        list[str] | None,
        typer.Option(metavar="CIDR", help="CIDR operators reach the cluster API from (repeat; private)."),
    ] = None,
    allow_public_operator_cidr: Annotated[bool, typer.Option(help="Accept public --operator-cidr ranges.")] = False,
    deletion_protection: Annotated[bool, typer.Option(help="Protect stateful resources from deletion.")] = True,
    sso_provider: Annotated[
        SsoProvider,
        typer.Option(metavar="google|github|microsoft|oidc|keycloak", help="The tenant's identity provider kind."),
    ] = SsoProvider.OIDC,
    sso_issuer: Annotated[str | None, typer.Option(metavar="URL", help="OIDC issuer URL (https://...).")] = None,
    sso_client_id: Annotated[
        str | None, typer.Option(metavar="CLIENT_ID", help="OIDC client id (its secret goes in stack config).")
    ] = None,
    image: Annotated[str | None, typer.Option(metavar="IMAGE", help="Gateway container image.")] = None,
    directory: DirOption = Path(),
    force: Annotated[bool, typer.Option(help="Overwrite an existing stack file.")] = False,
) -> None:
    """Validate a tenant spec and write Pulumi.TENANT.yaml, then print the next steps."""
    try:
        network = parse_cidr(cidr) if cidr else None
    except CidrError as exc:
        fail(f"--cidr: {exc}", EXIT_USAGE)
    external_id = None
    if registration(cloud).byob_external_id and storage is StorageMode.BYOB:
        external_id = (_existing_external_id(directory, tenant) if force else None) or new_external_id()
    raw: dict[str, Any] = {
        "name": tenant,
        "cloud": cloud,
        "region": region,
        "size": size,
        "network_cidr": network or "10.0.0.0/16",  # checked here; the free block is chosen below
        "hostname": hostname or f"{tenant}.{DEFAULT_DOMAIN}",
        "deletion_protection": deletion_protection,
        "connectivity": {
            "public_ingress": public_ingress,
            "allowed_cidrs": allow or [],
            "egress_cidrs": egress_cidr or [],
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
        "azure_operator_group_ids": azure_operator_group or [],
        "route53_zone_id": route53_zone_id,
        "operator_cidrs": operator_cidr or [],
        "allow_public_operator_cidrs": allow_public_operator_cidr,
    }
    if image:
        raw["gateway_image"] = image
    try:
        spec = TenantSpec.model_validate(raw)
    except ValidationError as exc:
        fail("invalid tenant spec:\n  " + "\n  ".join(option_errors(exc)), EXIT_USAGE)
    if stack_path(directory, tenant).exists() and not force:
        fail(f"{stack_path(directory, tenant)} already exists; pass --force to overwrite it", EXIT_FAILED)
    try:
        used = used_cidrs(directory, exclude=tenant if force else None)
        if network is None:
            network = allocate(used)
        else:
            check_free(network, used)
        spec = spec.model_copy(update={"network_cidr": network})
        path = write_stack(directory, spec, force=force)
    except CidrError as exc:
        fail(f"--cidr: {exc}" if cidr else str(exc), EXIT_FAILED)
    except StackFileError as exc:
        fail(str(exc), EXIT_FAILED)
    out.print(f"wrote {path} ({spec.cloud.value} {spec.region}, {spec.size.value}, network {spec.network_cidr})")
    for warning in spec_warnings(spec):
        warn(warning)
    out.print("next steps (docs/tenant-stack.md):")
    for step in next_steps(spec):
        out.print(f"  {step}", highlight=False, markup=False, soft_wrap=True)


@stack_app.command()
def preview(
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            metavar="TENANT",
            callback=optional_tenant_name,
            help="The tenant whose Pulumi.TENANT.yaml to preview.",
        ),
    ] = None,
    all_stacks: Annotated[bool, typer.Option("--all", help="Preview every stack file in --dir.")] = False,
    as_json: JsonOption = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Worker processes for --all [default: the machine's cores]."),
    ] = None,
    directory: DirOption = Path(),
) -> None:
    """Run the stack's program offline under Pulumi's mocks: resources, policy verdicts, cost estimate."""
    if all_stacks == (tenant is not None):
        fail("give --tenant TENANT or --all (not both)", EXIT_USAGE)
    from infra import preview as offline  # Pulumi SDKs: imported only when a preview runs

    if all_stacks:
        if not stack_paths(directory):
            fail(f"no Pulumi.*.yaml stack files in {directory}", EXIT_FAILED)
        workers = workers or os.cpu_count() or 1
        if as_json:
            results = offline.preview_fleet(directory, workers)
            typer.echo(json.dumps({"stacks": results}, indent=2))
        else:
            results = offline.preview_fleet_with_progress(directory, workers, err)
            out.print(offline.fleet_table(results))
            for result in results:
                if "error" in result:
                    out.print(f"[red]{result['tenant']}:[/] {escape(result['error'])}", soft_wrap=True)
        if not all(r["passed"] for r in results):
            raise typer.Exit(EXIT_FAILED)
        return
    assert tenant is not None
    try:
        spec = read_stack(stack_path(directory, tenant))
    except StackFileError as exc:
        fail(str(exc), EXIT_FAILED)
    try:
        with err.status(f"previewing {tenant}") as status:
            report = offline.preview_spec(spec, progress=lambda stage: status.update(f"{tenant}: {stage}"))
    except Exception as exc:  # the program itself failed: say why in one line, as the fleet preview does
        fail(f"the preview of {tenant} failed: {offline.root_cause(exc)}", EXIT_FAILED)
    if as_json:
        typer.echo(json.dumps(offline.report_json(report), indent=2))
    else:
        offline.render(report, out)
    if not report.passed:
        raise typer.Exit(EXIT_FAILED)


def _listing(path: Path) -> dict[str, Any]:
    try:
        spec = read_stack(path)
    except StackFileError as exc:
        return {"tenant": stack_name(path), "file": str(path), "error": str(exc)}
    return {
        "tenant": spec.name,
        "file": str(path),
        "cloud": spec.cloud.value,
        "region": spec.region,
        "size": spec.size.value,
        "network": str(spec.network_cidr),
        "hostname": spec.hostname,
    }


@stack_app.command("list")
def list_stacks(directory: DirOption = Path(), as_json: JsonOption = False) -> None:
    """The tenant stacks in --dir (a stack file that cannot be read is listed with the reason)."""
    stacks = [_listing(path) for path in stack_paths(directory)]
    if as_json:
        typer.echo(json.dumps({"stacks": stacks}, indent=2))
        return
    columns = ("tenant", "cloud", "region", "size", "network", "hostname")
    table = Table(title=f"Tenant stacks in {directory.resolve()}")
    for column in columns:
        table.add_column(column, overflow="fold")
    for stack in stacks:
        if "error" in stack:
            table.add_row(stack["tenant"], f"[red]{escape(stack['error'])}[/]", "", "", "", "")
        else:
            table.add_row(*(stack[column] for column in columns))
    out.print(table)
