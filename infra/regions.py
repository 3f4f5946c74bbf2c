"""Regions Enclave deploys to, with the availability zones each offers (zones are not derivable from names:
GCP's europe-west1 has b, c and d; AWS's ca-central-1 has a, b and d). Checked against the providers'
public region lists; a region missing here is refused with the list of supported ones."""

from __future__ import annotations

from typing import Final

ZONES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "aws": {
        "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c"),
        "us-east-2": ("us-east-2a", "us-east-2b", "us-east-2c"),
        "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c"),
        "ca-central-1": ("ca-central-1a", "ca-central-1b", "ca-central-1d"),
        "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
        "eu-west-2": ("eu-west-2a", "eu-west-2b", "eu-west-2c"),
        "eu-central-1": ("eu-central-1a", "eu-central-1b", "eu-central-1c"),
        "ap-southeast-1": ("ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"),
        "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
    },
    "gcp": {
        "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c"),
        "us-east1": ("us-east1-b", "us-east1-c", "us-east1-d"),
        "us-east4": ("us-east4-a", "us-east4-b", "us-east4-c"),
        "us-west1": ("us-west1-a", "us-west1-b", "us-west1-c"),
        "europe-west1": ("europe-west1-b", "europe-west1-c", "europe-west1-d"),
        "europe-west2": ("europe-west2-a", "europe-west2-b", "europe-west2-c"),
        "europe-west3": ("europe-west3-a", "europe-west3-b", "europe-west3-c"),
        "europe-west4": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "asia-northeast1": ("asia-northeast1-a", "asia-northeast1-b", "asia-northeast1-c"),
        "asia-southeast1": ("asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c"),
    },
    "azure": dict.fromkeys(
        (
            "eastus",
            "eastus2",
            "westus2",
            "canadacentral",
            "westeurope",
            "northeurope",
            "uksouth",
            "germanywestcentral",
            "southeastasia",
            "japaneast",
        ),
        ("1", "2", "3"),
    ),
}


def supported_regions(cloud: str) -> list[str]:
    return sorted(ZONES[cloud])
