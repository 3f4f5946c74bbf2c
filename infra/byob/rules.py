"""Input rules for the kit, written once and enforced twice: by `enclave byob synth` before it writes anything,
and by the `validation` blocks of the Terraform variables (so a customer who edits terraform.tfvars.json by
hand meets the same rules at `terraform plan`).

Patterns use only what both Python's `re` and Terraform's RE2 read alike (character classes, no backslashes,
no look-around), so one string serves both. A prefix may not carry IAM wildcards (`*`, `?`) or policy
variables (`${`): it is pasted into ARNs and conditions, where those would widen the grant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tenancy.names import TENANT_NAME_MAX, TENANT_NAME_MIN, TENANT_NAME_REGEX, TENANT_NAME_RULE


def hcl_string(text: str) -> str:
    """`text` as a quoted string literal inside a Terraform expression."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{") + '"'


@dataclass(frozen=True)
class Rule:
    """A value's rule: a full-match pattern and length bounds, plus (for prefixes) forbidden path segments."""

    what: str  # what the value is, for messages: "the tenant name"
    pattern: str
    message: str  # the rule in words, shown on a mismatch
    min_length: int = 0
    max_length: int | None = None
    forbidden_segments: tuple[str, ...] = ()  # "/"-separated segments that may not occur

    def problem(self, value: str) -> str | None:
        """Why `value` breaks the rule, or None."""
        if (
            len(value) < self.min_length
            or (self.max_length is not None and len(value) > self.max_length)
            or re.fullmatch(self.pattern, value) is None
            or any(segment in self.forbidden_segments for segment in value.split("/"))
        ):
            return f"{value!r} is not {self.what}: {self.message}"
        return None

    def condition(self, variable: str) -> str:
        """The same rule as a Terraform validation condition on `var.<variable>`."""
        return self.condition_on(f"var.{variable}")

    def condition_on(self, ref: str) -> str:
        """The rule as a Terraform condition on the expression `ref`."""
        parts = [f"can(regex({hcl_string('^' + self.pattern + '$')}, {ref}))"]
        if self.min_length:
            parts.append(f"length({ref}) >= {self.min_length}")
        if self.max_length is not None:
            parts.append(f"length({ref}) <= {self.max_length}")
        parts += [f'!contains(split("/", {ref}), {hcl_string(s)})' for s in self.forbidden_segments]
        return " && ".join(parts)


TENANT = Rule("a tenant name", TENANT_NAME_REGEX, TENANT_NAME_RULE, TENANT_NAME_MIN, TENANT_NAME_MAX)
PREFIX = Rule(
    "a bucket prefix",
    "([A-Za-z0-9_.=-]+/)*",
    "empty (the whole bucket) or segments of letters, digits and . _ = - each ending in '/', e.g. tenants/acme/",
    max_length=256,
    forbidden_segments=(".", ".."),
)
GATEWAY_URL = Rule(
    "the gateway's URL",
    "https://[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+(:[0-9]{1,5})?",
    "https://HOST[:PORT] with a lower-case DNS name and no path (the browser origin allowed by CORS)",
    max_length=260,
)

# AWS
AWS_REGION = Rule("an AWS region", "[a-z]{2}(-[a-z]+)+-[0-9]", "like eu-west-1")
S3_BUCKET = Rule(
    "an S3 bucket name",
    "[a-z0-9]([a-z0-9-]|[.][a-z0-9])*[a-z0-9]",
    "3-63 lower-case letters, digits, hyphens and single dots, starting and ending with a letter or digit",
    3,
    63,
)
AWS_PRINCIPAL = Rule(
    "the platform's IAM principal",
    "arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}",
    "the ARN of one IAM role (or user) — the tenant stack's platformIdentity output; an account root is refused",
)
IAM_PRINCIPAL = Rule(
    "an IAM role or user ARN",
    AWS_PRINCIPAL.pattern,
    "arn:aws:iam::ACCOUNT:role/NAME or :user/NAME (an account root is refused)",
)
EXTERNAL_ID = Rule(
    "an ExternalId",
    "[A-Za-z0-9+=,.@:/_-]+",
    "16-1224 characters of letters, digits and + = , . @ : / _ - — use the one Enclave generated "
    "(enclave storage external-id --tenant TENANT)",
    16,
    1224,
)
KMS_KEY_ARN = Rule(
    "a KMS key ARN",
    "arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]{1,64}",
    "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (a key ARN; IAM policies cannot name an alias)",
)

# Google Cloud
GCP_PROJECT = Rule(
    "a Google Cloud project id", "[a-z][a-z0-9-]{4,28}[a-z0-9]", "6-30 lower-case letters, digits, hyphens"
)
GCP_LOCATION = Rule(
    "a Google Cloud region",
    "[a-z]+-[a-z]+[0-9]+",
    "a region such as europe-west1 (multi-regions name their KMS location differently, so the kit takes a region)",
)
GCS_BUCKET = Rule(
    "a Cloud Storage bucket name",
    "[a-z0-9][a-z0-9_-]*[a-z0-9]",
    "3-63 lower-case letters, digits, hyphens and underscores (no dots, which need domain verification)",
    3,
    63,
)
GCP_SERVICE_ACCOUNT = Rule(
    "a service account e-mail",
    "[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9][.]iam[.]gserviceaccount[.]com",
    "NAME@PROJECT.iam.gserviceaccount.com — the tenant stack's platformIdentity output",
)
GCP_KMS_KEY = Rule(
    "a Cloud KMS key name",
    "projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}",
    "projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY",
)

# Azure
AZURE_OBJECT_ID = Rule(
    "an Entra object id",
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "a lower-case GUID: the object id of the platform's service principal in your directory",
)
AZURE_ACCOUNT = Rule("a storage account name", "[a-z0-9]+", "3-24 lower-case letters and digits", 3, 24)
AZURE_CONTAINER = Rule(
    "a container name", "[a-z0-9]+(-[a-z0-9]+)*", "3-63 lower-case letters, digits and single inner hyphens", 3, 63
)
AZURE_RESOURCE_GROUP = Rule(
    "a resource group name", "[A-Za-z0-9_.()-]*[A-Za-z0-9_()-]", "1-90 letters, digits and . _ ( ) -", 1, 90
)
AZURE_KEY_ID = Rule(
    "a Key Vault key id",
    "https://[a-z0-9-]{3,24}[.]vault[.]azure[.]net/keys/[A-Za-z0-9-]{1,127}",
    "https://VAULT.vault.azure.net/keys/NAME (versionless, so that rotation needs no change)",
)

AZURE_REPLICATION = Rule("a redundancy option", "LRS|ZRS|GRS|GZRS|RAGRS|RAGZRS", "one of LRS ZRS GRS GZRS RAGRS RAGZRS")
IPV4_RANGE = Rule(
    "a public IPv4 address or range",
    "([0-9]{1,3}[.]){3}[0-9]{1,3}(/([89]|[12][0-9]|30))?",
    "A.B.C.D or A.B.C.D/N with N from 8 to 30 (Azure takes single addresses for /31 and /32)",
)
AZURE_RESOURCE_ID = Rule(
    "a Log Analytics workspace id",
    "/subscriptions/[0-9a-f-]{36}/resourceGroups/[A-Za-z0-9_.()-]{1,90}/providers/Microsoft[.]OperationalInsights/"
    "workspaces/[A-Za-z0-9-]{4,63}",
    "/subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.OperationalInsights/workspaces/NAME",
)


def default_prefix(tenant: str) -> str:
    return f"tenants/{tenant}/"
