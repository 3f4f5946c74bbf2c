"""What every AWS part shares: the tenant's BuildContext plus the provider pinned to the tenant's region."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from infra.cloud import BuildContext, CloudContext


@dataclass(frozen=True)
class AwsContext(CloudContext):
    provider: aws.Provider

    def tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The tenant tags, set explicitly on every taggable resource (mocks apply no provider default tags)."""
        return {**(extra or {}), **self.ctx.tags}


def aws_context(ctx: BuildContext) -> AwsContext:
    """One explicit provider per tenant, pinned to its region, so no resource follows ambient AWS config."""
    provider = aws.Provider(ctx.name("aws"), region=ctx.spec.region, opts=ctx.opts())
    return AwsContext(ctx=ctx, provider=provider)
