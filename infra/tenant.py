"""TenantStack: one tenant's whole stack as a single Pulumi component.

The cloud module (from the registry, infra/clouds.py) builds the infrastructure, one component per part
(`enclave:<cloud>:Keys`, `...:Network`, `...:Cluster`, ...; see infra/cloud.py); the gateway workload then runs
on the cluster it returns. Every resource is a descendant of this component, so the stack's resource tree
reads as one tenant and, below it, as the architecture.
"""

from __future__ import annotations

import pulumi

from infra.cloud import BuildContext, CloudModule, TenantInfrastructure
from infra.spec import TenantSpec
from infra.workload import GatewayWorkload, cache_url, database_url, gateway_args

COMPONENT_TYPE = "enclave:index:TenantStack"


class TenantStack(pulumi.ComponentResource):
    outputs: dict[str, pulumi.Output[str]]

    def __init__(self, spec: TenantSpec, cloud: CloudModule, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, spec.name, None, opts)
        ctx = BuildContext(spec=spec, parent=self)
        self.infrastructure = cloud.build(ctx)
        self.gateway = GatewayWorkload(ctx, gateway_args(spec, self.infrastructure))
        self.outputs = stack_outputs(spec, self.infrastructure)
        self.register_outputs(dict(self.outputs))


def stack_outputs(spec: TenantSpec, infra: TenantInfrastructure) -> dict[str, pulumi.Output[str]]:
    """What `pulumi stack output` shows. Connection URLs carry credentials and are secret; host names,
    identities and the BYOB ExternalId (already in the stack file, and required by the customer) are not."""
    db, cache = infra.database, infra.cache
    outputs: dict[str, pulumi.Output[str]] = {
        "gatewayUrl": pulumi.Output.from_input(f"https://{spec.hostname}"),
        "clusterName": infra.cluster_name,
        "keyId": infra.key_id,
        "auditTrail": infra.audit_trail,
        "bucket": infra.storage.bucket,
        "platformIdentity": infra.storage.platform_identity,
        "databaseEndpoint": pulumi.Output.concat(db.host, ":", str(db.port)),
        "cacheEndpoint": pulumi.Output.concat(cache.host, ":", str(cache.port)),
        "databaseUrl": pulumi.Output.secret(database_url(db)),
        "cacheUrl": pulumi.Output.secret(cache_url(cache)),
    }
    if infra.storage.external_id:
        outputs["platformExternalId"] = pulumi.Output.from_input(infra.storage.external_id)
    if infra.private_link_service is not None:
        outputs["privateLinkService"] = infra.private_link_service
    for key, value in infra.extra_outputs.items():
        if key in outputs:
            raise ValueError(f"the cloud module's extra output {key!r} clashes with a standard stack output")
        outputs[key] = value
    return outputs
