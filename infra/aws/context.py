"""What every AWS part shares: the tenant's BuildContext plus the provider pinned to the tenant's region."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.cloud import BuildContext
from infra.spec import TenantSpec


@dataclass(frozen=True)
class AwsContext:
    ctx: BuildContext
    provider: aws.Provider

    @property
    def spec(self) -> TenantSpec:
        return self.ctx.spec

    def name(self, part: str) -> str:
        return self.ctx.name(part)

    def tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The tenant tags, set explicitly on every taggable resource (mocks apply no provider default tags)."""
        return {**(extra or {}), **self.ctx.tags}

    def opts(
        self, *, stateful: bool = False, depends_on: Sequence[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        return self.ctx.opts(stateful=stateful, provider=self.provider, depends_on=depends_on)


def aws_context(ctx: BuildContext) -> AwsContext:
    """One explicit provider per tenant, pinned to its region, so no resource follows ambient AWS config."""
    provider = aws.Provider(ctx.name("aws"), region=ctx.spec.region, opts=ctx.opts())
    return AwsContext(ctx=ctx, provider=provider)
