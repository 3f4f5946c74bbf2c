"""Size presets: what `small`, `medium` and `large` mean on each cloud. One table, read by every cloud module
and by the cost estimate, so a size means the same capacity everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Size(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


@dataclass(frozen=True)
class SizePreset:
    node_machine_type: str  # EC2 instance type / GCE machine type / Azure VM size
    node_count_min: int
    node_count_max: int
    db_instance_class: str  # RDS class / Cloud SQL tier / Azure Flexible Server SKU
    db_storage_gb: int
    db_high_availability: bool  # Multi-AZ / regional / zone-redundant: from medium up
    cache_node_type: str  # ElastiCache node type / Memorystore tier / Azure Managed Redis SKU
    cache_memory_gb: int
    cache_replicas: int
    gateway_replicas: int


PRESETS: Final[dict[str, dict[Size, SizePreset]]] = {
    "aws": {
        Size.SMALL: SizePreset("m6i.large", 2, 4, "db.t4g.medium", 50, False, "cache.t4g.small", 1, 1, 2),
        Size.MEDIUM: SizePreset("m6i.xlarge", 3, 8, "db.r6g.large", 200, True, "cache.r6g.large", 13, 1, 3),
        Size.LARGE: SizePreset("m6i.2xlarge", 3, 16, "db.r6g.2xlarge", 1000, True, "cache.r6g.xlarge", 26, 2, 4),
    },
    "gcp": {
        Size.SMALL: SizePreset("n2-standard-2", 2, 4, "db-custom-2-7680", 50, False, "BASIC", 1, 0, 2),
        Size.MEDIUM: SizePreset("n2-standard-4", 3, 8, "db-custom-4-15360", 200, True, "STANDARD_HA", 13, 1, 3),
        Size.LARGE: SizePreset("n2-standard-8", 3, 16, "db-custom-8-30720", 1000, True, "STANDARD_HA", 26, 1, 4),
    },
    "azure": {
        # Azure Managed Redis (Balanced tier, high availability: a replica in every SKU).
        Size.SMALL: SizePreset("Standard_D2s_v5", 2, 4, "Standard_B2ms", 64, False, "Balanced_B1", 1, 1, 2),
        Size.MEDIUM: SizePreset("Standard_D4s_v5", 3, 8, "Standard_D4ds_v5", 256, True, "Balanced_B10", 12, 1, 3),
        Size.LARGE: SizePreset("Standard_D8s_v5", 3, 16, "Standard_E8ds_v5", 1024, True, "Balanced_B20", 24, 1, 4),
    },
}
