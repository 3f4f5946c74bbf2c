"""Estimated monthly cost of a stack, per resource, from the price table shipped in infra/prices.json.

Each billable type token has an estimator that turns the resource's inputs into priced line items (price
key x quantity). A type with no estimator is free only if the table says so; anything else is reported as
"not priced", never silently counted as zero. Usage-based items (storage, log ingestion) use the table's
stated assumptions.

Prices are per region, as the providers' price lists publish them (infra/prices.json: `regions` per price
key, each entry with its source and date). An item whose price is not recorded for the stack's region is
reported "not priced" with the region named: a price is never carried over or scaled from another region.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeAlias

PRICES_PATH = Path(__file__).with_name("prices.json")
PER_MONTH_UNITS = {"month", "gb-month", "gb", "100k-events", "10k-operations"}
PER_HOUR_UNITS = {"hour", "gb-hour"}


class NotPriced(Exception):
    """The resource is billable but the table cannot price it (unknown machine type, missing input)."""


class NoRegionalPrice(NotPriced):
    """The table has the price key, but no price for the stack's region."""


@dataclass(frozen=True)
class Price:
    unit: str
    source: str
    as_of: str
    regions: Mapping[str, float]  # region -> USD per unit, as the price list publishes it


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Price]
    assumptions: Mapping[str, float]
    hours_per_month: float
    free_types: frozenset[str]
    free_prefixes: tuple[str, ...]
    reference_regions: Mapping[str, str]  # the region a cloud's estimate uses when the caller names none

    def monthly(self, key: str, quantity: float, region: str) -> float:
        price = self.prices.get(key)
        if price is None:
            raise NotPriced(f"no price for {key!r} in infra/prices.json")
        usd = price.regions.get(region)
        if usd is None:
            recorded = ", ".join(sorted(price.regions)) or "none"
            raise NoRegionalPrice(f"no published price for {key!r} in {region} is recorded (recorded: {recorded})")
        hours = self.hours_per_month if price.unit in PER_HOUR_UNITS else 1.0
        return usd * hours * quantity

    def region_for(self, cloud: str, region: str | None) -> str:
        if cloud not in self.reference_regions:
            raise ValueError(f"infra/prices.json has no prices for cloud {cloud!r}")
        return region or self.reference_regions[cloud]

    def is_free(self, type_token: str) -> bool:
        return type_token in self.free_types or type_token.startswith(self.free_prefixes)


def load_table(path: Path = PRICES_PATH) -> PriceTable:
    doc = json.loads(path.read_text(encoding="utf-8"))
    prices: dict[str, Price] = {}
    for key, entry in doc["prices"].items():
        price = Price(entry["unit"], entry["source"], entry["as_of"], dict(entry["regions"]))
        if price.unit not in PER_MONTH_UNITS | PER_HOUR_UNITS:
            raise ValueError(f"{path}: {key} has unknown unit {price.unit!r}")
        if not price.source.startswith("https://"):
            raise ValueError(f"{path}: {key} needs the https:// address of its public source")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.as_of):
            raise ValueError(f"{path}: {key} needs the date (YYYY-MM-DD) it was recorded")
        if not price.regions or not all(isinstance(v, int | float) and v > 0 for v in price.regions.values()):
            raise ValueError(f"{path}: {key} needs a positive price for every region it lists")
        prices[key] = price
    return PriceTable(
        prices=prices,
        assumptions=doc["assumptions"],
        hours_per_month=float(doc["hours_per_month"]),
        free_types=frozenset(doc["free_types"]),
        free_prefixes=tuple(doc["free_prefixes"]),
        reference_regions=dict(doc["reference_regions"]),
    )


@cache
def default_table() -> PriceTable:
    return load_table()


@dataclass(frozen=True)
class LineItem:
    price_key: str
    quantity: float
    monthly_usd: float


@dataclass(frozen=True)
class ResourceCost:
    urn: str
    type: str
    name: str
    status: str  # "priced" | "free" | "not priced"
    monthly_usd: float
    items: tuple[LineItem, ...] = ()
    reason: str = ""
    missing_region: bool = False  # not priced because the region's price is not recorded


@dataclass(frozen=True)
class CostReport:
    resources: tuple[ResourceCost, ...]
    region: str = ""

    @property
    def total_monthly_usd(self) -> float:
        return sum(r.monthly_usd for r in self.resources)

    @property
    def not_priced(self) -> tuple[ResourceCost, ...]:
        return tuple(r for r in self.resources if r.status == "not priced")

    @property
    def complete(self) -> bool:
        return not self.not_priced

    @property
    def summary(self) -> str:
        """How far the total goes: every billable item priced in the region, or which are missing and why."""
        if self.complete:
            return f"{self.region}: published list prices for every billable item"
        missing = [r for r in self.not_priced if r.missing_region]
        others = len(self.not_priced) - len(missing)
        parts = []
        if missing:
            parts.append(f"{len(missing)} item(s) have no recorded price in {self.region}")
        if others:
            parts.append(f"{others} item(s) cannot be priced")
        return f"{self.region}: partial total, {' and '.join(parts)} (listed as not priced)"


# An estimator: (inputs, cloud of the stack, assumptions) -> [(price key, quantity)].
Items: TypeAlias = list[tuple[str, float]]
Estimator: TypeAlias = Callable[[Mapping[str, Any], str, Mapping[str, float]], Items]


def _get(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            raise NotPriced(f"input {path} is not set")
        value = value[key]
    return value


def _opt(inputs: Mapping[str, Any], path: str, default: Any) -> Any:
    try:
        return _get(inputs, path)
    except NotPriced:
        return default


def _fixed(key: str) -> Estimator:
    return lambda inputs, cloud, assume: [(key, 1)]


def _usage(key: str, assumption: str) -> Estimator:
    return lambda inputs, cloud, assume: [(key, assume[assumption])]


# --- AWS


def _eks_node_group(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    types = _get(inputs, "instanceTypes")
    return [(f"aws.ec2.{types[0]}", float(_get(inputs, "scalingConfig.desiredSize")))]


def _rds_instance(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    copies = 2 if _opt(inputs, "multiAz", False) else 1
    return [
        (f"aws.rds.{_get(inputs, 'instanceClass')}", copies),
        ("aws.rds.gp3-storage", copies * float(_get(inputs, "allocatedStorage"))),
    ]


def _elasticache(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    nodes = _opt(inputs, "numCacheClusters", None)
    if nodes is None:
        groups = _opt(inputs, "numNodeGroups", 1)
        nodes = groups * (1 + _opt(inputs, "replicasPerNodeGroup", 0))
    return [(f"aws.elasticache.{_get(inputs, 'nodeType')}", float(nodes))]


def _aws_lb(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    if _opt(inputs, "loadBalancerType", "application") != "network":
        raise NotPriced("only network load balancers are in the price table")
    return [("aws.nlb", 1)]


def _aws_vpc_endpoint(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    if _opt(inputs, "vpcEndpointType", "Gateway") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    return [("aws.interface-endpoint-az", float(len(_opt(inputs, "subnetIds", [None]))))]


# --- GCP

_CUSTOM_TIER = re.compile(r"^db-custom-(\d+)-(\d+)$")


def _gke_node_pool(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    machine = _get(inputs, "nodeConfig.machineType")
    total = _opt(inputs, "autoscaling.totalMinNodeCount", None)
    if total is None:
        per_zone = _opt(inputs, "autoscaling.minNodeCount", None) or _opt(inputs, "nodeCount", None)
        per_zone = per_zone or _get(inputs, "initialNodeCount")
        total = per_zone * max(1, len(_opt(inputs, "nodeLocations", [])))
    return [(f"gcp.compute.{machine}", float(total))]


def _cloud_sql(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    tier = _get(inputs, "settings.tier")
    match = _CUSTOM_TIER.match(tier)
    if not match:
        raise NotPriced(f"Cloud SQL tier {tier!r} is not a db-custom-<vCPUs>-<MiB> tier")
    copies = 2 if _opt(inputs, "settings.availabilityType", "ZONAL") == "REGIONAL" else 1
    return [
        ("gcp.sql.vcpu", copies * float(match[1])),
        ("gcp.sql.memory-gb", copies * float(match[2]) / 1024),
        ("gcp.sql.ssd-storage", copies * float(_get(inputs, "settings.diskSize"))),
    ]


def _memorystore(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    size = float(_get(inputs, "memorySizeGb"))
    band = next(
        b for limit, b in ((4, "M1"), (10, "M2"), (35, "M3"), (100, "M4"), (float("inf"), "M5")) if size <= limit
    )
    return [(f"gcp.redis.{_opt(inputs, 'tier', 'BASIC')}.{band}", size)]


def _gcp_kms_key(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    hsm = _opt(inputs, "versionTemplate.protectionLevel", "SOFTWARE") == "HSM"
    return [("gcp.kms.hsm-key" if hsm else "gcp.kms.software-key", 1)]


# --- Azure


def _agent_pool_items(pool: Mapping[str, Any]) -> Items:
    count = pool.get("minCount") or pool.get("count")
    if not count or "vmSize" not in pool:
        raise NotPriced("an agent pool has no vmSize or node count")
    return [(f"azure.vm.{pool['vmSize']}", float(count))]


def _aks_cluster(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    items: Items = [("azure.aks.standard-tier", 1)] if _opt(inputs, "sku.tier", "Free") != "Free" else []
    for pool in _opt(inputs, "agentPoolProfiles", []):
        items += _agent_pool_items(pool)
    return items


def _azure_mysql(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    copies = 2 if _opt(inputs, "highAvailability.mode", "Disabled") != "Disabled" else 1
    return [
        (f"azure.mysql.{_get(inputs, 'sku.name')}", copies),
        ("azure.mysql.storage", copies * float(_get(inputs, "storage.storageSizeGB"))),
    ]


def _azure_managed_redis(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    """An Azure Managed Redis instance's hourly price is per SKU, high availability included."""
    return [(f"azure.managed-redis.{_get(inputs, 'sku.name')}", 1)]


def _azure_key(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    kty = str(_opt(inputs, "properties.kty", ""))
    items: Items = [("azure.keyvault.operations", assume["key_operations_10k_per_month"])]
    return [("azure.keyvault.hsm-key", 1), *items] if kty.endswith("-HSM") else items


# --- Kubernetes: a LoadBalancer Service makes the cloud create a load balancer

_CLOUD_LOAD_BALANCER = {"aws": "aws.nlb", "gcp": "gcp.forwarding-rule", "azure": "azure.lb-rules"}


def _k8s_service(inputs: Mapping[str, Any], cloud: str, assume: Mapping[str, float]) -> Items:
    if _opt(inputs, "spec.type", "ClusterIP") != "LoadBalancer":
        return []
    return [(_CLOUD_LOAD_BALANCER[cloud], 1)]


ESTIMATORS: Mapping[str, Estimator] = {
    "aws:eks/cluster:Cluster": _fixed("aws.eks.cluster"),
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": _elasticache,
    "aws:ec2/natGateway:NatGateway": _fixed("aws.nat-gateway"),
    "aws:ec2/eip:Eip": _fixed("aws.public-ipv4"),
    "aws:lb/loadBalancer:LoadBalancer": _aws_lb,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _aws_vpc_endpoint,
    "aws:kms/key:Key": _fixed("aws.kms.key"),
    "aws:s3/bucket:Bucket": _usage("aws.s3.standard", "storage_gb"),
    "aws:s3/bucketV2:BucketV2": _usage("aws.s3.standard", "storage_gb"),
    "aws:cloudwatch/logGroup:LogGroup": _usage("aws.logs.ingestion", "log_gb_per_month"),
    "aws:cloudtrail/trail:Trail": _usage("aws.cloudtrail.data-events", "audit_data_events_100k_per_month"),
    "gcp:container/cluster:Cluster": _fixed("gcp.gke.cluster"),
    "gcp:container/nodePool:NodePool": _gke_node_pool,
    "gcp:sql/databaseInstance:DatabaseInstance": _cloud_sql,
    "gcp:redis/instance:Instance": _memorystore,
    "gcp:compute/routerNat:RouterNat": _usage("gcp.cloud-nat.vm", "nat_vms"),
    "gcp:kms/cryptoKey:CryptoKey": _gcp_kms_key,
    "gcp:storage/bucket:Bucket": _usage("gcp.gcs.standard", "storage_gb"),
    "gcp:logging/projectSink:ProjectSink": _usage("gcp.logging.ingestion", "log_gb_per_month"),
    "gcp:dns/managedZone:ManagedZone": _fixed("gcp.dns.managed-zone"),
    "azure-native:containerservice:ManagedCluster": _aks_cluster,
    "azure-native:containerservice:AgentPool": lambda inputs, cloud, assume: _agent_pool_items(inputs),
    "azure-native:dbformysql:Server": _azure_mysql,
    "azure-native:redisenterprise:RedisEnterprise": _azure_managed_redis,
    "azure-native:network:NatGateway": _fixed("azure.nat-gateway"),
    "azure-native:network:PublicIPAddress": _fixed("azure.public-ip"),
    "azure-native:network:PrivateEndpoint": _fixed("azure.private-endpoint"),
    "azure-native:network:FlowLog": _usage("azure.flow-logs", "log_gb_per_month"),
    "azure-native:keyvault:Key": _azure_key,
    "azure-native:storage:StorageAccount": _usage("azure.blob.hot", "storage_gb"),
    "azure-native:operationalinsights:Workspace": _usage("azure.log-analytics.ingestion", "log_gb_per_month"),
    "kubernetes:core/v1:Service": _k8s_service,
}


@dataclass(frozen=True)
class PricedResource:
    """What the estimate needs of a resource (the preview passes its mocked resources)."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    custom: bool = True


def estimate_one(resource: PricedResource, cloud: str, table: PriceTable, region: str) -> ResourceCost:
    def cost(status: str, items: tuple[LineItem, ...] = (), reason: str = "", missing: bool = False) -> ResourceCost:
        total = sum(i.monthly_usd for i in items)
        return ResourceCost(resource.urn, resource.type, resource.name, status, total, items, reason, missing)

    estimator = ESTIMATORS.get(resource.type)
    if estimator is None:
        if not resource.custom or table.is_free(resource.type):
            return cost("free")
        return cost("not priced", reason="no estimator for this type")
    try:
        items = tuple(
            LineItem(key, qty, table.monthly(key, qty, region))
            for key, qty in estimator(resource.inputs, cloud, table.assumptions)
        )
    except NoRegionalPrice as exc:
        return cost("not priced", reason=str(exc), missing=True)
    except (NotPriced, TypeError, ValueError, IndexError) as exc:
        return cost("not priced", reason=str(exc) or type(exc).__name__)
    if not items:
        return cost("free")
    return cost("priced", items)


def estimate(
    resources: Iterable[PricedResource], cloud: str, table: PriceTable | None = None, *, region: str | None = None
) -> CostReport:
    """Price every resource for a stack in `region` (the cloud's reference region when None)."""
    table = table or default_table()
    where = table.region_for(cloud, region)
    return CostReport(tuple(estimate_one(r, cloud, table, where) for r in resources), where)
