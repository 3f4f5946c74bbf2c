"""`Pulumi.<tenant>.yaml`: the per-tenant stack file. Written by `enclave stack init`, read by the offline
preview and, through stack config, by the Pulumi program itself. The spec lives under `enclave:tenant`;
secrets never do: the file's header tells the operator which ones to set with `pulumi config set --secret`.
"""

from __future__ import annotations

import secrets
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from infra.spec import TenantSpec

TENANT_KEY = "enclave:tenant"
DATABASE_PASSWORD_KEY = "databasePassword"  # noqa: S105 - a config key name, not a secret
CACHE_AUTH_TOKEN_KEY = "cacheAuthToken"  # noqa: S105
SSO_CLIENT_SECRET_KEY = "ssoClientSecret"  # noqa: S105
TLS_CERTIFICATE_KEY = "tlsCertificate"  # the gateway's PEM certificate chain (where the pods serve TLS)
TLS_PRIVATE_KEY_KEY = "tlsPrivateKey"
# The Ed25519 key every gateway replica signs audit checkpoints with (`enclave audit keygen` makes one). One key
# per tenant, from the stack's secrets: a key generated per pod would differ between replicas and die with the
# pod, and a key kept in the database would let anyone with database access forge checkpoints.
AUDIT_SIGNING_KEY_KEY = "auditSigningKey"
# The AES-256 key every replica seals stored client secrets and refresh tokens with (`enclave secrets keygen`);
# from the stack's secrets for the same reasons, and apart from the audit key so each is rotated on its own.
SECRETS_KEY_KEY = "secretsKey"


class StackFileError(ValueError):
    """A stack file is missing, unreadable, or already there."""


def field_errors(exc: ValidationError) -> list[str]:
    """One line per invalid field, e.g. `region: region 'mars-1' is not supported on aws; choose ...`."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "spec"
        if error["type"] == "string_pattern_mismatch":
            lines.append(f"{where}: {error['input']!r} is not valid (expected {error['ctx']['pattern']})")
        else:
            lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def stack_path(directory: Path, name: str) -> Path:
    return directory / f"Pulumi.{name}.yaml"


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def stack_paths(directory: Path) -> list[Path]:
    """Every stack file in `directory`, sorted by tenant name."""
    return sorted(directory.glob("Pulumi.*.yaml"), key=stack_name)


def required_secrets(spec: TenantSpec) -> list[str]:
    """Stack secrets the program reads. Memorystore and Azure Cache generate their AUTH secret themselves;
    ElastiCache takes the operator's."""
    keys = [DATABASE_PASSWORD_KEY, AUDIT_SIGNING_KEY_KEY, SECRETS_KEY_KEY]
    keys += spec.cloud_registration.stack_secrets
    if spec.sso.client_id:
        keys.append(SSO_CLIENT_SECRET_KEY)
    if spec.gateway_serves_tls:
        keys += [TLS_CERTIFICATE_KEY, TLS_PRIVATE_KEY_KEY]
    return keys


def new_external_id() -> str:
    """ExternalId for an AWS BYOB trust policy: unguessable, so no other platform customer can make the
    platform assume this tenant's role (the confused-deputy guard)."""
    return secrets.token_hex(16)


# Where each secret comes from in the next steps: never a value on a command line (it would land in the shell's
# history and the process list). `pulumi config set --secret KEY` without a value reads it from stdin
# ("pulumi config set": "If a value is not present on the command line, pulumi will prompt for the value",
# and reads a piped stdin; https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/).
SECRET_SOURCES = {
    AUDIT_SIGNING_KEY_KEY: "enclave audit keygen | ",
    SECRETS_KEY_KEY: "enclave secrets keygen | ",
    TLS_CERTIFICATE_KEY: "< chain.pem",
    TLS_PRIVATE_KEY_KEY: "< key.pem",
}
SECRET_ENV = {
    DATABASE_PASSWORD_KEY: "ENCLAVE_DATABASE_PASSWORD",
    CACHE_AUTH_TOKEN_KEY: "ENCLAVE_CACHE_AUTH_TOKEN",
    SSO_CLIENT_SECRET_KEY: "ENCLAVE_SSO_CLIENT_SECRET",
}


def secret_step(tenant: str, key: str) -> str:
    """The command that stores one stack secret, reading the value from a pipe, a file or an env variable."""
    command = f"pulumi config set --secret -s {tenant} enclave:{key}"
    source = SECRET_SOURCES.get(key)
    if source is not None and source.endswith("| "):
        return f"{source}{command}"
    if source is not None:
        return f"{command} {source}"
    return f"printf '%s' \"${SECRET_ENV.get(key, 'ENCLAVE_' + key.upper())}\" | {command}"


def next_steps(spec: TenantSpec) -> list[str]:
    """What the operator runs after `enclave stack init`, in order: the state backend and the stack first (a
    stack must exist before `pulumi config set` can store a secret in it), then its secrets, the offline
    preview and the deployment. `stack init` prints these, the stack file's header repeats them, and
    docs/tenant-stack.md shows them for its example (a test keeps the three equal)."""
    return [
        "pulumi login",
        f"pulumi stack init {spec.name}",
        *(secret_step(spec.name, key) for key in required_secrets(spec)),
        f"enclave stack preview --tenant {spec.name}",
        f"pulumi up -s {spec.name} --policy-pack infra/policy",
    ]


def render(spec: TenantSpec) -> str:
    header = [
        f"# Stack for tenant {spec.name!r} ({spec.cloud.value}, {spec.region}), written by `enclave stack init`.",
        "# Next steps (secrets are stored encrypted in the stack, never in this file in clear):",
        *(f"#   {step}" for step in next_steps(spec)),
    ]
    body = yaml.safe_dump({"config": {TENANT_KEY: spec.model_dump(mode="json")}}, sort_keys=False)
    return "\n".join(header) + "\n" + body


def write_stack(directory: Path, spec: TenantSpec, *, force: bool = False) -> Path:
    path = stack_path(directory, spec.name)
    if path.exists() and not force:
        raise StackFileError(f"{path} already exists; pass --force to overwrite it")
    path.write_text(render(spec), encoding="utf-8")
    return path


def _tenant_config(path: Path) -> dict[str, Any] | None:
    """The raw `enclave:tenant` object, or None for a stack file of another kind."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StackFileError(f"cannot read {path}: {exc}") from exc
    config = document.get("config") if isinstance(document, dict) else None
    raw = config.get(TENANT_KEY) if isinstance(config, dict) else None
    if raw is not None and not isinstance(raw, dict):
        raise StackFileError(f"{path}: {TENANT_KEY} must be an object")
    return raw


def read_stack(path: Path) -> TenantSpec:
    if not path.is_file():
        raise StackFileError(f"no stack file {path}; create it with `enclave stack init`")
    raw = _tenant_config(path)
    if raw is None:
        raise StackFileError(f"{path} has no {TENANT_KEY} config; it is not an Enclave tenant stack")
    try:
        return TenantSpec.model_validate(raw)
    except ValidationError as exc:
        raise StackFileError(f"{path}: invalid tenant spec: {'; '.join(field_errors(exc))}") from exc


def used_cidrs(directory: Path, *, exclude: str | None = None) -> list[IPv4Network]:
    """Network blocks of every tenant stack in `directory` (but `exclude`'s, when re-initialising it).
    A tenant file whose block cannot be read is an error: allocating around an unknown block could
    hand out an overlapping one."""
    used = []
    for path in stack_paths(directory):
        if stack_name(path) == exclude:
            continue
        raw = _tenant_config(path)
        if raw is None:
            continue
        try:
            used.append(IPv4Network(str(raw.get("network_cidr"))))
        except ValueError as exc:
            raise StackFileError(f"{path}: network_cidr is missing or invalid ({exc})") from exc
    return used
