"""Stack secrets checked against what the AWS service accepts, with errors that never echo the value."""

from __future__ import annotations

import pulumi

from infra.cloud import BuildContext

# RDS MySQL master password: 8-41 printable ASCII, not / ' " @ or space.
DATABASE_PASSWORD = (8, 41, frozenset("/'\"@ "))
# ElastiCache AUTH token: 16-128 printable ASCII, not / " @ or space.
CACHE_AUTH_TOKEN = (16, 128, frozenset('/"@ '))


def check_secret(key: str, value: str, rule: tuple[int, int, frozenset[str]]) -> str:
    low, high, forbidden = rule
    printable = all(33 <= ord(c) <= 126 for c in value)
    if not (low <= len(value) <= high and printable and not forbidden & set(value)):
        raise ValueError(
            f"stack secret enclave:{key} must be {low} to {high} printable ASCII characters without "
            f"{' '.join(sorted(forbidden - {' '}))} or spaces (value not shown)"
        )
    return value


def stack_secret(ctx: BuildContext, key: str, rule: tuple[int, int, frozenset[str]]) -> pulumi.Output[str]:
    """The secret from stack config, validated; stays a secret Output."""
    return pulumi.Output.secret(ctx.secret(key).apply(lambda value: check_secret(key, value, rule)))
