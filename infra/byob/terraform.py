"""What every kit is made of, over terraform-cdk's core only (0.6 s to import; the provider bindings are
imported by the cloud modules): a stack whose state stays local to the customer's working directory, variables
validated by `rules.Rule`, outputs, and annotations that ride in the JSON's `//` comment fields.

Expressions are written as Terraform text (`${var.x}`), not cdktf tokens, so that the Python reads like the
JSON the customer reviews. `count` switches optional parts on and off; checkov ignores `count`, so every
optional resource is scanned as if it were on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")  # Node 20 works; the banner is noise

from cdktf import (
    LocalBackend,
    TerraformDataSource,
    TerraformLocal,
    TerraformOutput,
    TerraformResource,
    TerraformStack,
    TerraformVariable,
    TerraformVariableValidationConfig,
    Token,
)
from constructs import Construct

from infra.byob.rules import GATEWAY_URL, PREFIX, TENANT, Rule


@dataclass(frozen=True)
class Skip:
    """A checkov check that does not apply to one resource, and why. Checkov's terraform_json runner reads no
    inline suppressions (bridgecrewio/checkov#4634), so the reason is written into the resource's `//` field for
    reviewers, the check id into the kit's checkov.yaml, and tests/infra/byob/test_checkov.py proves that each
    skipped check fails on exactly the resources that declare it and nowhere else."""

    check: str
    reason: str


def ref(expression: str) -> str:
    """A Terraform interpolation: ref("var.x") -> "${var.x}"."""
    return "${" + expression + "}"


def count_if(condition: str) -> Any:
    """`count` for a part that exists only when `condition` (a Terraform expression) holds."""
    return Token.as_number(ref(f"{condition} ? 1 : 0"))


class KitStack(TerraformStack):
    """One kit. State is local (`terraform.tfstate` next to the module) unless the customer adds a backend."""

    def __init__(self, scope: Construct, cloud: str) -> None:
        super().__init__(scope, f"byob-{cloud}")
        LocalBackend(self, path="terraform.tfstate")
        self._outputs = Construct(self, "outputs")  # its own scope: an output may share a variable's name
        self.annotations: dict[tuple[str, str, str], dict[str, Any]] = {}

    def annotate(self, element: TerraformResource | TerraformDataSource, purpose: str, *skips: Skip) -> None:
        """What a resource or data source is for (the README's resource table is built from these) and its
        checkov skips. Written into the block's `//` field after synthesis (synth.annotate_blocks): cdktf drops
        `//` overrides on data sources."""
        kind = "data" if isinstance(element, TerraformDataSource) else "resource"
        note: dict[str, Any] = {"purpose": purpose}
        if skips:
            note["checkov"] = {"skip": [{"id": s.check, "comment": s.reason} for s in skips]}
        self.annotations[(kind, element.terraform_resource_type, element.friendly_unique_id)] = note

    def variable(
        self,
        name: str,
        *,
        type: str,
        description: str,
        default: Any = None,
        required: bool = False,
        rule: Rule | None = None,
        list_rule: Rule | None = None,
    ) -> None:
        """A variable; with `rule`, a validation block. Null is refused (an optional string's "not set" is "",
        which its rule lets through), so no condition ever meets a null it cannot read."""
        validation: list[TerraformVariableValidationConfig] = []
        if rule is not None:
            condition = rule.condition(name)
            if not required:
                condition = f'var.{name} == "" ? true : ({condition})'
            validation.append(
                TerraformVariableValidationConfig(condition=ref(condition), error_message=f"{name}: {rule.message}.")
            )
        if list_rule is not None:
            validation.append(
                TerraformVariableValidationConfig(
                    condition=ref(f"alltrue([for each in var.{name} : {list_rule.condition_on('each')}])"),
                    error_message=f"{name}: each entry is {list_rule.what}: {list_rule.message}.",
                )
            )
        TerraformVariable(
            self,
            name,
            type=type,
            description=description,
            default=None if required else default,
            nullable=False,
            validation=validation or None,
        )

    def tenant_variables(self, *, bucket: Rule, bucket_description: str, create: str, switch: str) -> None:
        """The variables every kit has: the tenant, the bucket (and whether to create it), the prefix, the
        gateway origin and the revoke switch."""
        self.variable(
            "tenant", type="string", required=True, rule=TENANT, description="The Enclave tenant this bucket serves."
        )
        self.variable("bucket_name", type="string", required=True, rule=bucket, description=bucket_description)
        self.variable(
            create,
            type="bool",
            default=True,
            description="false: use the existing one; the kit then changes nothing on it (check the "
            "settings the README lists yourself).",
        )
        self.variable(
            "prefix",
            type="string",
            required=True,
            rule=PREFIX,
            description="The tenant's prefix; the platform may touch nothing outside it.",
        )
        self.variable(
            "gateway_url",
            type="string",
            required=True,
            rule=GATEWAY_URL,
            description="The tenant's Enclave gateway (https://HOST): the only origin CORS allows.",
        )
        self.variable("access_enabled", type="bool", default=True, description=switch)

    def tenant_outputs(self, connect: str) -> None:
        """The outputs every kit has; `connect` is the `enclave storage connect` line for its backend."""
        self.output("bucket", ref("var.bucket_name"), "The bucket or container (--bucket).")
        self.output("prefix", ref("var.prefix"), "The tenant's prefix (--prefix).")
        self.output("access_enabled", ref("var.access_enabled"), "Whether the platform has its permissions.")
        self.output(
            "enclave_storage_connect",
            f"enclave storage connect --tenant ${{var.tenant}} {connect} --bucket ${{var.bucket_name}} "
            "--prefix '${var.prefix}' --reason 'BYOB kit applied'",
            "What the Enclave operator runs to register this grant.",
        )

    def local(self, name: str, expression: str) -> None:
        TerraformLocal(self, name, expression)

    def output(self, name: str, value: str, description: str) -> None:
        TerraformOutput(self._outputs, name, value=value, description=description, static_id=True)
