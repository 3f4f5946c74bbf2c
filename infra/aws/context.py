"""What every AWS part shares: the tenant's BuildContext plus the provider pinned to the tenant's region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_aws as aws

from infra.aws.account import account_check
from infra.cloud import BuildContext, CloudContext


@dataclass(frozen=True)
class AwsContext(CloudContext):
    provider: aws.Provider
    account_check: pulumi.Output[str] | None = None  # see infra/aws/account.py

    def opts(self, *, stateful: bool = False, **kwargs: object) -> pulumi.ResourceOptions:
        """As CloudContext's, and every AWS resource waits for the account check: none is created in an
        account that already holds another tenant."""
        if self.account_check is not None:
            explicit = list(cast("list[pulumi.Resource]", kwargs.pop("depends_on", None) or []))
            kwargs["depends_on"] = self.account_check.apply(lambda _: explicit)
        return super().opts(stateful=stateful, **kwargs)

    def tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The tenant tags, set explicitly on every taggable resource (mocks apply no provider default tags)."""
        return {**(extra or {}), **self.ctx.tags}


def aws_context(ctx: BuildContext) -> AwsContext:
    """One explicit provider per tenant, pinned to its region and to the spec's account, so no resource follows
    ambient AWS config: with `allowed_account_ids` the provider refuses credentials of any other account before
    it creates anything (the AWS provider's `allowedAccountIds` setting; Terraform AWS provider argument
    reference, `allowed_account_ids`). The account is the tenant's isolation boundary (docs/tenant-stack.md)."""
    account = ctx.spec.aws_account_id
    provider = aws.Provider(
        ctx.name("aws"),
        region=ctx.spec.region,
        allowed_account_ids=[account] if account else None,
        opts=ctx.opts(),
    )
    return AwsContext(ctx=ctx, provider=provider, account_check=account_check(ctx.spec, provider))
