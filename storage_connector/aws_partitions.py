"""AWS partitions and their regions, offline, from botocore's own partition data.

`botocore/data/partitions.json` is the file botocore's endpoint rule sets resolve `aws.partition` from: for
each partition (`aws`, `aws-cn`, `aws-us-gov`, the isolated ones) its ARN partition name, its DNS suffix
(`amazonaws.com`, `amazonaws.com.cn`, ...) and the regions it has. S3 hosts are `s3.<region>.<dnsSuffix>`
in every partition (`s3.amazonaws.com` for us-east-1), as botocore's S3 endpoint rule set
(`botocore/data/s3/2006-03-01/endpoint-rule-set-1.json.gz`) writes them; tests/storage_connector/test_sigv4.py
proves our URLs byte-identical to botocore's in every region listed here. A region a partition does not list
(a typo, or one launched after the installed botocore) is not a region here: a grant naming it is refused.
Partitions are isolated: credentials of one cannot assume a role of another
(https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

ARN = re.compile(r"arn:([a-z0-9-]+):")


@dataclass(frozen=True)
class Partition:
    id: str  # the ARN partition: arn:<id>:...
    dns_suffix: str
    regions: frozenset[str]

    def s3_host(self, region: str) -> str:
        """The regional S3 endpoint; us-east-1 keeps the global host botocore uses for it."""
        if self.id == "aws" and region == "us-east-1":
            return f"s3.{self.dns_suffix}"
        return f"s3.{region}.{self.dns_suffix}"


@functools.cache
def partitions() -> tuple[Partition, ...]:
    data = json.loads(resources.files("botocore").joinpath("data/partitions.json").read_text())
    found: list[Partition] = []
    for entry in data["partitions"]:
        pattern = re.compile(entry["regionRegex"])
        # Pseudo-regions such as `aws-global` are listed too; they name global endpoints, never a bucket's home.
        regions = frozenset(name for name in entry["regions"] if pattern.fullmatch(name))
        found.append(Partition(entry["id"], entry["outputs"]["dnsSuffix"], regions))
    return tuple(found)


def partition_ids() -> tuple[str, ...]:
    return tuple(p.id for p in partitions())


def partition_of_region(region: str) -> Partition | None:
    """The partition that has `region`, or None when no partition lists it."""
    return next((p for p in partitions() if region in p.regions), None)


def partition_of_arn(arn: str) -> str | None:
    match = ARN.match(arn)
    return match.group(1) if match else None


def partition(partition_id: str) -> Partition | None:
    return next((p for p in partitions() if p.id == partition_id), None)
