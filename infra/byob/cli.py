"""`enclave byob synth`: write the bring-your-own-bucket kit for one tenant.

Mounted by the main CLI as `app.add_typer(byob_app, name="byob")` when terraform-cdk is installed (extra `byob`).
Options are checked first (exit 2, one line per problem, nothing written); then the kit is synthesized — only
the chosen cloud's provider bindings load (20-60 s here, docs/benchmarks.md), once per generator version, as the
kit is the same for every tenant and is cached — and written with the tenant's terraform.tfvars.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from infra.byob.inputs import KitRequest, problems, tfvars
from infra.byob.synth import KIT_FILE, KitCloud, build_kit, cached_kit

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
TFVARS_FILE = "terraform.tfvars.json"
BINDINGS = {KitCloud.AWS: "AWS", KitCloud.GCP: "Google", KitCloud.AZURE: "Azure"}

byob_app = typer.Typer(
    help="Bring-your-own-bucket kits: Terraform for customer IT.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help wraps at 80 columns; Rich's tables cut option names
)
out = Console()
err = Console(stderr=True)


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        err.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@byob_app.command()
def synth(
    cloud: Annotated[KitCloud, typer.Option(help="The customer's cloud.")],
    tenant: Annotated[str, typer.Option(metavar="TENANT", help="The tenant the bucket serves.")],
    platform_identity: Annotated[
        str,
        typer.Option(
            metavar="ID",
            help="What the kit grants access to: the tenant stack's platformIdentity output (AWS role ARN, GCP "
            "service account e-mail; Azure: the platform's service principal object id in the customer's directory).",
        ),
    ],
    gateway_url: Annotated[
        str, typer.Option(metavar="URL", help="The tenant's gateway, https://HOST (the only origin CORS allows).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder to write the kit into.")],
    existing_bucket: Annotated[
        str | None,
        typer.Option(
            metavar="BUCKET", help="Use this existing bucket (Azure: ACCOUNT/CONTAINER) instead of a new one."
        ),
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option(metavar="BUCKET", help="Name for a new bucket (Azure: ACCOUNT/CONTAINER) [default: generated]."),
    ] = None,
    kms_key: Annotated[
        str | None,
        typer.Option(metavar="KEY", help="An existing customer key (AWS key ARN, Cloud KMS key name) [default: new]."),
    ] = None,
    prefix: Annotated[
        str | None, typer.Option(metavar="PREFIX", help="The tenant's prefix [default: tenants/TENANT/].")
    ] = None,
    region: Annotated[str | None, typer.Option(metavar="REGION", help="AWS region / GCP region of the bucket.")] = None,
    project: Annotated[str | None, typer.Option(metavar="PROJECT", help="GCP: the customer's project.")] = None,
    resource_group: Annotated[
        str | None, typer.Option(metavar="GROUP", help="Azure: the customer's resource group.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite a kit already in --out.")] = False,
    cache: Annotated[
        bool, typer.Option(help="Reuse a kit made by the same generator and pinned versions (ENCLAVE_BYOB_CACHE).")
    ] = True,
) -> None:
    """Write the Terraform kit (cdk.tf.json, README.md, checkov.yaml) and the tenant's terraform.tfvars.json."""
    request = KitRequest(
        cloud=cloud,
        tenant=tenant,
        platform_identity=platform_identity,
        gateway_url=gateway_url,
        prefix=prefix,
        existing_bucket=existing_bucket,
        bucket=bucket,
        kms_key=kms_key,
        region=region,
        project=project,
        resource_group=resource_group,
    )
    found = problems(request)
    if out_dir.exists() and not out_dir.is_dir():
        found.append(f"--out: {out_dir} is not a folder")
    elif (out_dir / KIT_FILE).exists() and not force:
        found.append(f"--out: {out_dir} already holds a kit; pass --force to overwrite it")
    if found:
        _fail(found, EXIT_BAD_INPUT)
    values = tfvars(request)
    started = time.monotonic()
    try:
        if cache:
            err.print(f"synthesizing (the first time: the {BINDINGS[cloud]} provider bindings load for 20-60 s) ...")
            kit, reused = cached_kit(cloud)
        else:
            err.print(f"loading the {BINDINGS[cloud]} provider bindings (20-60 s) ...", highlight=False)
            kit, reused = build_kit(cloud), False
        written = kit.write(out_dir)
        (out_dir / TFVARS_FILE).write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    except (OSError, RuntimeError, ValueError) as exc:
        _fail([f"the kit could not be written: {type(exc).__name__}: {exc}"], EXIT_FAILED)
    seconds = time.monotonic() - started
    for path in [*written, out_dir / TFVARS_FILE]:
        out.print(str(path), highlight=False)
    steps = ["terraform init", "terraform plan -out kit.plan", "terraform apply kit.plan"]
    external = ' first add "external_id" (enclave storage external-id --tenant ' + tenant + ") to " + TFVARS_FILE
    err.print(
        f"wrote the {cloud.value} kit in {seconds:.1f} s{' (from the cache)' if reused else ''}. Customer IT:"
        + (external + ";" if cloud is KitCloud.AWS else "")
        + " then "
        + " && ".join(steps)
        + f" in {out_dir}; see README.md.",
        highlight=False,
        soft_wrap=True,
    )
