"""IAM helpers shared by the AWS parts: JSON policy documents, service trust, account ids read off ARNs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pulumi

_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d{12})?:"
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")

Statement = dict[str, Any]


def policy_document(statements: Sequence[Statement]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def service_trust(service: str) -> str:
    """Trust policy letting one AWS service principal (e.g. `eks.amazonaws.com`) assume a role."""
    return policy_document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def account_of(arn: str) -> str:
    """The 12-digit account id inside an ARN. Deriving it from a resource the stack creates avoids a
    data-source invoke, so the offline preview needs no canned answers."""
    match = _ARN.match(arn)
    if not match or not match.group("account"):
        raise ValueError(f"cannot read an AWS account id from ARN {arn!r}")
    return match.group("account")


def account_id_output(arn: pulumi.Output[str]) -> pulumi.Output[str]:
    return arn.apply(account_of)


def require_account_id(value: str, what: str) -> str:
    if not _ACCOUNT_ID.match(value):
        raise ValueError(f"{what} must be a 12-digit AWS account id, got {value!r}")
    return value


def account_root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"
