"""A small stand-in cloud module for testing the cloud-agnostic half: a few `fake:` resources with the
security settings the fake RULES check, returning a TenantInfrastructure like a real cloud module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.cloud import BuildContext, CacheEndpoint, DatabaseEndpoint, EgressAllow, StorageWiring, TenantInfrastructure
from infra.policy.model import CloudRules, PolicyContext, ResourceView, Rule

DATABASE = "fake:index:Database"
KEY = "fake:index:Key"
NETWORK = "fake:index:Network"
CLUSTER = "fake:index:Cluster"


class FakeResource(pulumi.CustomResource):
    def __init__(self, type_: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(type_, name, props, opts)


@dataclass
class FakeCloud:
    public_database: bool = False
    tags_override: dict[str, str] | None = None
    private_link: bool = False
    external_id: str | None = None

    def build(self, ctx: BuildContext) -> TenantInfrastructure:
        tags = self.tags_override if self.tags_override is not None else ctx.tags
        key = FakeResource(KEY, ctx.name("key"), {"rotation": True, "tags": tags}, ctx.opts(stateful=True))
        FakeResource(NETWORK, ctx.name("network"), {"cidr": str(ctx.spec.network_cidr), "tags": tags}, ctx.opts())
        db = FakeResource(
            DATABASE,
            ctx.name("db"),
            {"publiclyAccessible": self.public_database, "kmsKeyId": key.id, "requireTls": True, "tags": tags},
            ctx.opts(stateful=True),
        )
        FakeResource(CLUSTER, ctx.name("cluster"), {"endpointPublic": False, "tags": tags}, ctx.opts())
        host = pulumi.Output.concat(db.id, ".db.internal")
        return TenantInfrastructure(
            cluster_name=pulumi.Output.from_input(ctx.name("cluster")),
            kubeconfig=pulumi.Output.secret("apiVersion: v1\nkind: Config\n"),
            key_id=key.id,
            database=DatabaseEndpoint(host, 3306, "enclave", "enclave", ctx.secret("databasePassword")),
            cache=CacheEndpoint(pulumi.Output.from_input("cache.internal"), 6380, ctx.secret("cacheAuthToken")),
            storage=StorageWiring(
                bucket=pulumi.Output.from_input(f"{ctx.spec.name}-data"),
                platform_identity=pulumi.Output.from_input("platform@fake"),
                external_id=self.external_id,
            ),
            audit_trail=pulumi.Output.from_input("trail"),
            gateway_service_account_annotations={"fake.io/identity": "platform@fake"},
            gateway_pod_labels={"fake.io/use-identity": "true"},
            load_balancer_annotations={"fake.io/lb-tls": "true"},
            private_cidrs=("10.42.128.0/20", "10.42.144.0/20"),
            private_link_service=pulumi.Output.from_input("pls-fake") if self.private_link else None,
            api_egress=(EgressAllow("10.42.160.0/24", (443,)),),  # where the fake cloud's private API endpoints are
        )


def _public_database(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if view.inputs.get("publiclyAccessible"):
        yield "the database is publicly accessible"


def _encrypted(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if not view.inputs.get("kmsKeyId"):
        yield "the database is not encrypted with the tenant key"


def _tls(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if not view.inputs.get("requireTls"):
        yield "the database accepts plaintext connections"


def _private_endpoint(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if view.inputs.get("endpointPublic"):
        yield "the cluster endpoint is public"


def _key_protected(view: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if ctx.deletion_protection and not view.protect:
        yield "the key is not protected"


FAKE_RULES = CloudRules(
    checks={
        Rule.NO_PUBLIC_DATA: {DATABASE: _public_database},
        Rule.ENCRYPTION_AT_REST: {DATABASE: _encrypted},
        Rule.TLS_IN_TRANSIT: {DATABASE: _tls},
        Rule.PRIVATE_CLUSTER_ENDPOINT: {CLUSTER: _private_endpoint},
        Rule.DELETION_PROTECTION: {KEY: _key_protected, DATABASE: _key_protected},
    },
    taggable_types=frozenset({DATABASE, KEY, NETWORK, CLUSTER}),
    tag_field="tags",
)

PASSWORDS = {
    "enclave:databasePassword": "db-pass/word:1",
    "enclave:cacheAuthToken": "cache-token@2",
    "enclave:auditSigningKey": "audit-signing-key-stand-in",
    "enclave:secretsKey": "secrets-key-stand-in",
}
RULES = FAKE_RULES  # so the engine can load this module like a real cloud's policy
