"""The customer's README for a kit, built from the synthesized JSON (variables, resources with their purpose,
outputs, checkov skips) and the cloud's own notes, so the README cannot drift from the module it describes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infra.byob.synth import CHECKOV_FILE, KitCloud, declared_skips

TERRAFORM_VERSIONS = "Terraform 1.5 or later, or OpenTofu 1.6 or later"


@dataclass(frozen=True)
class CloudNotes:
    title: str
    summary: str
    ask_operator: tuple[str, ...]  # what customer IT needs from the Enclave operator, in order
    credentials: str  # how Terraform authenticates to the cloud
    revoke: str  # what access_enabled = false does, and what it cannot do
    existing_bucket: str
    example: dict[str, Any]  # terraform.tfvars.json for an example tenant


NOTES: dict[KitCloud, CloudNotes] = {
    KitCloud.AWS: CloudNotes(
        title="AWS (S3)",
        summary=(
            "Creates (or reads) an S3 bucket encrypted with a customer-managed KMS key, and one IAM role that only the "
            "platform's principal may assume — with the tenant's ExternalId and under the session name "
            "`enclave-TENANT`. The role may get, put and upload in parts under the tenant's prefix, list that "
            "prefix, and use the bucket key through S3. Nothing else: no delete, no bucket settings, no other "
            "prefix, no access from any other AWS account."
        ),
        ask_operator=(
            "the ExternalId for your tenant: `enclave storage external-id --tenant TENANT` (it protects you from "
            "another Enclave customer making the platform use your role);",
            "the platform principal: the tenant stack's `platformIdentity` output (an IAM role ARN);",
            "the gateway URL: the tenant stack's `gatewayUrl` output.",
        ),
        credentials="AWS credentials for the account that owns the bucket (any method the AWS provider reads).",
        revoke=(
            "`access_enabled = false` deletes the role's permission policy and the key policy's statement for the "
            "role; the trust stays. S3 evaluates a session's permissions on every request, so URLs the platform "
            "has already signed stop working at once (IAM changes take a few seconds to propagate). Enclave's "
            "probe then finds `ListObjectsV2` refused, marks the grant `revoked-by-customer` and stops issuing. "
            "Editing only the trust policy would not do this: sessions already assumed would run to their end "
            "(at most one hour)."
        ),
        existing_bucket=(
            "With `create_bucket = false` the kit reads the bucket and changes nothing on it (Terraform would "
            "replace its whole policy, CORS and lifecycle configuration). Check these yourself: default "
            "encryption with the key in `kms_key_arn` (or the kit's key), versioning, Block Public Access, a "
            "bucket policy denying `aws:SecureTransport = false` and `s3:TlsVersion < 1.2`, and a CORS rule "
            "allowing `GET HEAD POST PUT` from the gateway URL with headers `content-md5 content-type x-amz-*` "
            "and exposing `ETag`."
        ),
        example={
            "tenant": "acme",
            "region": "eu-west-1",
            "bucket_name": "acme-enclave-data",
            "prefix": "tenants/acme/",
            "platform_principal_arn": "arn:aws:iam::111122223333:role/acme-gateway",
            "external_id": "0123456789abcdef0123456789abcdef",
            "gateway_url": "https://acme.enclave.example.com",
        },
    ),
    KitCloud.GCP: CloudNotes(
        title="Google Cloud (Cloud Storage)",
        summary=(
            "Creates (or reads) a Cloud Storage bucket with uniform bucket-level access, public access "
            "prevention enforced, versioning and a Cloud KMS key (CMEK), and binds the platform's service "
            "account to a custom role with object get, create and list only — not `roles/storage.admin` — on "
            "this bucket, under an IAM condition that limits objects to the tenant's prefix. Data-access audit "
            "logs for Cloud Storage are switched on in the project."
        ),
        ask_operator=(
            "the platform service account: the tenant stack's `platformIdentity` output "
            "(NAME@PROJECT.iam.gserviceaccount.com);",
            "the gateway URL: the tenant stack's `gatewayUrl` output.",
        ),
        credentials="Google credentials with rights to manage the bucket, KMS and project IAM in your project.",
        revoke=(
            "`access_enabled = false` deletes the bucket IAM binding of the platform's service account. A V4 "
            "signed URL acts with its signer's current permissions, so URLs already issued stop working once the "
            "change has propagated (IAM: typically 2 minutes, potentially 7 minutes or longer). Enclave's probe then "
            "finds `objects.list` refused, marks the grant `revoked-by-customer` and stops issuing."
        ),
        existing_bucket=(
            "With `create_bucket = false` the kit reads the bucket and changes nothing on it. It must have "
            "uniform bucket-level access (IAM conditions need it); check public access prevention, versioning, "
            "the default KMS key and a CORS entry for the gateway URL (`GET HEAD PUT POST`, response headers "
            "`Content-Type Content-MD5 ETag x-goog-resumable`) yourself."
        ),
        example={
            "tenant": "acme",
            "project": "acme-data-123456",
            "location": "europe-west1",
            "bucket_name": "acme-enclave-data",
            "prefix": "tenants/acme/",
            "platform_service_account": "acme-gateway@enclave-acme-prod.iam.gserviceaccount.com",
            "gateway_url": "https://acme.enclave.example.com",
        },
    ),
    KitCloud.AZURE: CloudNotes(
        title="Azure (Blob Storage)",
        summary=(
            "Creates (or reads) a storage account (HTTPS and TLS 1.2 only, no anonymous blob access, Shared Key "
            "authorization off) and a private container, and grants the platform's identity a custom role with "
            "blob read, write and create only — no delete — on that container, under a role-assignment condition "
            "that limits it to the tenant's prefix, plus the right to obtain user delegation keys on the account. "
            "The platform signs user-delegation SAS URLs; blob reads and writes are sent to a Log Analytics "
            "workspace by a diagnostic setting."
        ),
        ask_operator=(
            "the object id of the platform's service principal in your Microsoft Entra directory (for a "
            "subscription in the platform's own directory: the tenant stack's `platformIdentity` output);",
            "the gateway URL: the tenant stack's `gatewayUrl` output.",
        ),
        credentials="An Azure login (az login or a service principal) that may create role definitions and "
        "role assignments on the resource group (Owner or User Access Administrator).",
        revoke=(
            "`access_enabled = false` deletes both role assignments. New user delegation keys are refused and "
            "Enclave's probe marks the grant `revoked-by-customer`. URLs already issued are signed with a user "
            "delegation key; Azure Storage caches role assignments and keys, so they stop after a delay rather "
            "than at once. To stop them at once, also revoke the account's user delegation keys: "
            "`az storage account revoke-delegation-keys --name ACCOUNT --resource-group GROUP` (this invalidates "
            "every user-delegation SAS of the account, not only Enclave's)."
        ),
        existing_bucket=(
            "With `create_storage_account = false` the kit reads the account and the container "
            "(`container_name`) and changes nothing on them; the diagnostic setting and the role assignments "
            "are still created. Check HTTPS-only, TLS 1.2, anonymous access off, Shared Key off, versioning, "
            "soft delete and a CORS rule for the gateway URL yourself."
        ),
        example={
            "tenant": "acme",
            "resource_group_name": "acme-enclave",
            "storage_account_name": "acmeenclavedata",
            "container_name": "enclave-acme",
            "prefix": "tenants/acme/",
            "platform_principal_id": "00000000-0000-0000-0000-000000000000",
            "gateway_url": "https://acme.enclave.example.com",
        },
    ),
}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
        *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows),
    ]


def _variables(terraform: dict[str, Any]) -> list[str]:
    rows = []
    for name, spec in terraform.get("variable", {}).items():
        default = "required" if "default" not in spec else f"`{json.dumps(spec['default'])}`"
        rows.append((f"`{name}`", f"`{spec.get('type', 'any')}`", default, spec.get("description", "")))
    return _table(("variable", "type", "default", "what"), rows)


def _blocks(terraform: dict[str, Any]) -> list[str]:
    rows = []
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for type_, blocks in terraform.get(kind, {}).items():
            rows += [(f"`{prefix}{type_}.{name}`", block["//"]["purpose"]) for name, block in blocks.items()]
    return _table(("resource", "what it is for"), rows)


def _outputs(terraform: dict[str, Any]) -> list[str]:
    rows = [(f"`{name}`", spec.get("description", "")) for name, spec in terraform.get("output", {}).items()]
    return _table(("output", "what"), rows)


def render_readme(cloud: KitCloud, terraform: dict[str, Any]) -> str:
    notes = NOTES[cloud]
    providers = terraform.get("terraform", {}).get("required_providers", {})
    pins = ", ".join(f"`{p['source']}` {p['version']}" for p in providers.values())
    skips = [f"- `{check}` on `{address}`: {reason}" for address, check, reason in declared_skips(terraform)]
    lines = [
        f"# Enclave bring-your-own-bucket kit: {notes.title}",
        "",
        notes.summary,
        "",
        "You own the bucket and decide what the platform may do in it. This folder is plain Terraform JSON: read "
        f"it, review it, and apply it with your usual tools ({TERRAFORM_VERSIONS}; providers pinned: {pins}). It "
        "was generated with terraform-cdk 0.21.0 (pinned; deprecated upstream on 2025-12-10): you need neither "
        "terraform-cdk nor Enclave to apply it.",
        "",
        "## 1. Ask your Enclave operator for",
        "",
        *[f"{i}. {item}" for i, item in enumerate(notes.ask_operator, 1)],
        "",
        "## 2. Put your values in `terraform.tfvars.json`",
        "",
        "`enclave byob synth` writes this file with your tenant's values; otherwise create it. Example:",
        "",
        "```json",
        json.dumps(notes.example, indent=2),
        "```",
        "",
        "## 3. Apply",
        "",
        f"{notes.credentials} Then, in this folder:",
        "",
        "```",
        "terraform init",
        "terraform plan -out kit.plan      # read what will be created",
        "terraform apply kit.plan",
        "terraform output -raw enclave_storage_connect   # send this line to your Enclave operator",
        "```",
        "",
        "State stays in `terraform.tfstate` in this folder; add a backend block of your own to keep it elsewhere.",
        "",
        "## 4. Revoke: one switch",
        "",
        "```",
        "terraform apply -var access_enabled=false",
        "```",
        "",
        notes.revoke,
        "",
        "To give access back, apply with `access_enabled = true` and ask your operator to restore the grant "
        "(`enclave storage restore --tenant TENANT`): Enclave never re-enables a grant by itself.",
        "",
        "## An existing bucket",
        "",
        notes.existing_bucket,
        "",
        "## Variables",
        "",
        *_variables(terraform),
        "",
        "## What each resource is for",
        "",
        "Optional parts have a `count` that their variable switches on.",
        "",
        *_blocks(terraform),
        "",
        "## Outputs",
        "",
        *_outputs(terraform),
        "",
        "## Scanner",
        "",
        "```",
        f"checkov -d . --framework terraform_json --config-file {CHECKOV_FILE}",
        "```",
        "",
        "reports no failed check. The checks skipped, each for the named resource only and with the reason "
        "also written next to it in `cdk.tf.json`:",
        "",
        *(skips or ["- none"]),
        "",
    ]
    return "\n".join(lines)
