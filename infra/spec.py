"""TenantSpec: everything that decides what one tenant's stack looks like, validated before anything runs.

`enclave stack init` writes it into `Pulumi.<tenant>.yaml` (config key `enclave:tenant`); the Pulumi program
reads it back from stack config. Secrets never live here: they go through `pulumi config set --secret`.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.clouds import Cloud, CloudRegistration, registration
from infra.regions import supported_regions
from infra.sizes import Size, SizePreset
from tenancy.names import check_tenant_name

__all__ = ["Cloud", "Connectivity", "Peering", "Sso", "SsoProvider", "Storage", "StorageMode", "TenantSpec"]

RESERVED_NAMES = frozenset({"enclave", "admin", "default", "system", "platform", "aws", "gcp", "azure"})
TENANT_TAG = "enclave-tenant"  # tag / label key carried by every taggable resource
GUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


class StorageMode(StrEnum):
    MANAGED = "managed"  # the stack creates the tenant's bucket
    BYOB = "byob"  # the customer's bucket, in the customer's account, granted to the platform identity


class SsoProvider(StrEnum):
    GOOGLE = "google"
    GITHUB = "github"
    MICROSOFT = "microsoft"
    OIDC = "oidc"
    KEYCLOAK = "keycloak"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Peering(_Model):
    """VPC / VNet peering with a network the customer owns."""

    peer_network: str = Field(min_length=1, description="VPC id / network self-link / VNet resource id")
    peer_owner: str = Field(min_length=1, description="AWS account id / GCP project / Azure subscription id")
    peer_cidr: ipaddress.IPv4Network


class Connectivity(_Model):
    public_ingress: bool = Field(True, description="an internet-facing load balancer (TLS only)")
    allowed_cidrs: list[ipaddress.IPv4Network] = Field(
        default_factory=list, description="IP allow list for ingress; when given, everything else is denied"
    )
    private_link: bool = Field(False, description="PrivateLink / Private Service Connect / Private Link service")
    private_link_consumers: list[str] = Field(
        default_factory=list, description="accounts / projects / subscriptions allowed to connect privately"
    )
    peering: Peering | None = None
    egress_cidrs: list[ipaddress.IPv4Network] = Field(
        default_factory=list,
        description="addresses outside the cloud the gateway calls on 443: the identity provider's published "
        "ranges (and on Azure Microsoft Entra ID's); cloud APIs are reached through private endpoints",
    )

    @field_validator("egress_cidrs")
    @classmethod
    def _egress(cls, cidrs: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        for cidr in cidrs:
            if cidr.prefixlen < 8:
                raise ValueError(f"egress CIDR {cidr} is too wide: list the identity provider's ranges, not /0-/7")
        return cidrs

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.public_ingress and not self.private_link:
            raise ValueError("the gateway must be reachable: enable public_ingress or private_link")
        if self.private_link and not self.private_link_consumers:
            raise ValueError("private_link needs at least one entry in private_link_consumers")
        if self.private_link_consumers and not self.private_link:
            raise ValueError("private_link_consumers is set but private_link is off")
        return self


class Storage(_Model):
    mode: StorageMode = StorageMode.MANAGED
    bucket: str | None = Field(None, description="BYOB: the customer's bucket (or storage account/container)")
    customer_account: str | None = Field(None, description="BYOB: customer account / project / subscription")
    external_id: str | None = Field(None, description="AWS BYOB: the ExternalId the customer's trust requires")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.mode is StorageMode.BYOB and not (self.bucket and self.customer_account):
            raise ValueError("storage mode byob needs bucket and customer_account")
        if self.mode is StorageMode.MANAGED and (self.bucket or self.customer_account):
            raise ValueError("bucket and customer_account are only for storage mode byob")
        return self


class Sso(_Model):
    provider: SsoProvider = SsoProvider.OIDC
    issuer_url: str | None = Field(None, pattern=r"^https://[^\s]+$")
    client_id: str | None = None


class TenantSpec(_Model):
    name: str
    cloud: Cloud
    region: str
    size: Size = Size.SMALL
    network_cidr: ipaddress.IPv4Network
    hostname: str = Field(
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="the gateway's DNS name (TLS certificate, CORS origin)",
    )
    deletion_protection: bool = True
    connectivity: Connectivity = Field(default_factory=Connectivity)
    storage: Storage = Field(default_factory=Storage)
    sso: Sso = Field(default_factory=Sso)
    gateway_image: Annotated[str, Field(pattern=r"^[a-z0-9.\-/:_@]+$")] = "enclave/gateway:0.1.0"
    customer_managed_key: str | None = Field(
        None, description="a customer-managed key (ARN / Cloud KMS key id / Key Vault key id) to use instead"
    )
    # The account the stack deploys into; the field for the tenant's cloud is required before `pulumi up`
    # (infra/program.py) and the program refuses a stack without it. Formats are checked by infra/clouds.py.
    aws_account_id: str | None = Field(None, description="AWS: the 12-digit account the stack deploys into")
    gcp_project: str | None = Field(None, description="GCP: the project the stack deploys into")
    azure_subscription_id: str | None = Field(None, description="Azure: the subscription (GUID) deployed into")
    route53_zone_id: str | None = Field(
        None,
        pattern=r"^Z[A-Z0-9]{1,31}$",
        description="AWS: the Route 53 hosted zone (id) that holds `hostname`, for certificate validation",
    )
    acm_certificate_validated: bool = Field(
        False,
        description="AWS without route53_zone_id: the DNS records of the certificateValidation output are in place; "
        "the next `pulumi up` waits for ACM to issue the certificate, then creates the TLS listeners",
    )
    operator_cidrs: list[ipaddress.IPv4Network] = Field(
        default_factory=list,
        description="where operators (and `pulumi up`) reach the private cluster API from: private ranges",
    )
    allow_public_operator_cidrs: bool = Field(
        False, description="accept public ranges in operator_cidrs (e.g. a bastion's egress address)"
    )
    azure_operator_group_ids: list[Annotated[str, Field(pattern=GUID_PATTERN)]] = Field(
        default_factory=list,
        description="Azure: Entra ID groups (object ids) whose members administer the cluster's Kubernetes API",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        check_tenant_name(name)
        if name in RESERVED_NAMES:
            raise ValueError(f"tenant name {name!r} is reserved")
        return name

    @field_validator("network_cidr")
    @classmethod
    def _cidr(cls, cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= cidr.prefixlen <= 20:
            raise ValueError("network_cidr must be a /16 to /20 block")
        if not any(cidr.subnet_of(r) for r in PRIVATE_RANGES):
            raise ValueError("network_cidr must be in a private range (10/8, 172.16/12, 192.168/16, 100.64/10)")
        return cidr

    @field_validator("operator_cidrs")
    @classmethod
    def _operator_cidrs(cls, cidrs: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        for cidr in cidrs:
            if cidr.prefixlen < 8:
                raise ValueError(f"operator CIDR {cidr} is too wide: the cluster API is never open to /0-/7 ranges")
        return cidrs

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.region not in self.cloud_registration.zones:
            raise ValueError(
                f"region {self.region!r} is not supported on {self.cloud.value}; "
                f"choose one of: {', '.join(supported_regions(self.cloud.value))}"
            )
        self.cloud_registration.check(self)
        public = [str(c) for c in self.operator_cidrs if not any(c.subnet_of(r) for r in PRIVATE_RANGES)]
        if public and not self.allow_public_operator_cidrs:
            raise ValueError(
                f"operator_cidrs {', '.join(public)} are public: list private ranges (VPN, peering), or set "
                "allow_public_operator_cidrs (--allow-public-operator-cidr) to accept them explicitly"
            )
        peering = self.connectivity.peering
        if peering and peering.peer_cidr.overlaps(self.network_cidr):
            raise ValueError(f"peer_cidr {peering.peer_cidr} overlaps the tenant network {self.network_cidr}")
        return self

    @property
    def cloud_registration(self) -> CloudRegistration:
        return registration(self.cloud)

    @property
    def account(self) -> str | None:
        """The AWS account id / GCP project / Azure subscription id the stack deploys into, if set."""
        value: str | None = getattr(self, self.cloud_registration.account_field)
        return value

    @property
    def zones(self) -> tuple[str, ...]:
        return self.cloud_registration.zones[self.region]

    @property
    def preset(self) -> SizePreset:
        return self.cloud_registration.presets[self.size]

    @property
    def gateway_serves_tls(self) -> bool:
        """Whether the gateway pods terminate TLS themselves: AWS's NLB terminates it with an ACM certificate;
        GCP's and Azure's load balancers pass it through, so the pods serve HTTPS with the tenant's
        certificate (stack secrets `tlsCertificate` and `tlsPrivateKey`)."""
        return self.cloud_registration.gateway_serves_tls

    @property
    def tags(self) -> dict[str, str]:
        """Tags / labels every taggable resource carries (lowercase, valid as GCP labels)."""
        return {TENANT_TAG: self.name, "managed-by": "enclave"}
