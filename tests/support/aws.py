"""The gateway's own AWS identity in tests that need one (it assumes the customer's role with it; moto's STS
accepts any): made up per run, so no credential-shaped literal sits in the source, and no AWS config file on
this machine is read."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PLATFORM_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "TESTPLATFORM" + secrets.token_hex(4).upper(),
    "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
}


def use_platform_aws_credentials(patch: pytest.MonkeyPatch, scratch: Path) -> None:
    """The platform credentials in the environment until `patch` is undone."""
    for name, value in PLATFORM_AWS_CREDENTIALS.items():
        patch.setenv(name, value)
    patch.setenv("AWS_CONFIG_FILE", str(scratch / "no-aws-config"))


@contextmanager
def platform_aws_credentials(scratch: Path) -> Iterator[None]:
    """The platform credentials in the environment while inside (for fixtures wider than one test)."""
    with pytest.MonkeyPatch.context() as patch:
        use_platform_aws_credentials(patch, scratch)
        yield
