"""The tenant key: a Cloud KMS key ring and a rotating crypto key, or the customer's own key when the spec
names one. Every data service encrypts with it (CMEK); its service agent must be allowed to use it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.cloud import Part, PartComponent
from infra.gcp.project import GcpContext, ServiceAgent

ROTATION_PERIOD = "7776000s"  # 90 days
DESTROY_SCHEDULED_DURATION = "2592000s"  # 30 days between "destroy" and the key material being gone
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
_KEY_NAME = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/([a-z0-9-]+)/keyRings/[\w-]+/cryptoKeys/[\w-]+$"
)


@dataclass(frozen=True)
class KeysArgs:
    region: str
    customer_managed_key: str | None  # the customer's Cloud KMS key, used instead of a key of the stack's own
    deletion_protection: bool  # PREVENT: the key can never be destroyed through the program
    agents: tuple[ServiceAgent, ...] = tuple(ServiceAgent)  # the service agents that encrypt with the key


def check_customer_key(key_id: str, region: str) -> str:
    """A customer key must be a full Cloud KMS crypto key name in the tenant's region (CMEK for Cloud SQL,
    Memorystore, GKE and a regional bucket needs the key in the same location)."""
    match = _KEY_NAME.match(key_id)
    if not match:
        raise ValueError(
            "customer_managed_key must be a Cloud KMS key name "
            "projects/<project>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>"
        )
    if match.group(1) != region:
        raise ValueError(f"customer_managed_key is in {match.group(1)!r} but the tenant runs in {region!r}")
    return key_id


class TenantKey(PartComponent):
    part = Part.KEYS
    key_id: pulumi.Output[str]  # projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>
    customer_managed: bool
    crypto_key: gcp.kms.CryptoKey | None  # None when the customer's key is used
    # What a CMEK resource of each agent must wait for: the agent's use of the key (none for a customer's key,
    # which the customer grants, see the kmsKeyUsers output).
    grants: dict[ServiceAgent, tuple[pulumi.Resource, ...]]

    def __init__(self, scope: GcpContext, args: KeysArgs) -> None:
        super().__init__(scope.ctx)
        project = scope.within(self)
        ctx = project.ctx
        self.customer_managed = args.customer_managed_key is not None
        if args.customer_managed_key is not None:
            self.key_id = pulumi.Output.from_input(check_customer_key(args.customer_managed_key, args.region))
            self.crypto_key = None
            self.grants = dict.fromkeys(args.agents, ())
        else:
            ring = gcp.kms.KeyRing(
                ctx.name("keys"),
                name=ctx.name("keys"),
                project=project.project,
                location=args.region,
                opts=project.opts(stateful=True),
            )
            self.crypto_key = gcp.kms.CryptoKey(
                ctx.name("key"),
                name=ctx.name("key"),
                key_ring=ring.id,
                purpose="ENCRYPT_DECRYPT",
                rotation_period=ROTATION_PERIOD,
                destroy_scheduled_duration=DESTROY_SCHEDULED_DURATION,
                version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                    algorithm="GOOGLE_SYMMETRIC_ENCRYPTION", protection_level="SOFTWARE"
                ),
                deletion_policy="PREVENT" if args.deletion_protection else "DELETE",
                labels=project.labels,
                opts=project.opts(stateful=True),
            )
            self.key_id = self.crypto_key.id
        self.grants = {agent: tuple(allow_key_use(project, self.crypto_key, agent)) for agent in args.agents}
        self.publish(keyId=self.key_id)


def allow_key_use(
    project: GcpContext, crypto_key: gcp.kms.CryptoKey | None, agent: ServiceAgent
) -> list[pulumi.Resource]:
    """Let a service agent encrypt with the tenant key (None: the customer's key); returns what a CMEK resource
    must depend on. A customer's key lives in the customer's project: the customer grants it (see the
    kmsKeyUsers output)."""
    if crypto_key is None:
        return []
    grant = gcp.kms.CryptoKeyIAMMember(
        project.ctx.name(f"key-user-{agent.name.lower().replace('_', '-')}"),
        crypto_key_id=crypto_key.id,
        role=ENCRYPTER_DECRYPTER,
        member=project.agent_member(agent),
        opts=project.opts(),
    )
    return [grant]
