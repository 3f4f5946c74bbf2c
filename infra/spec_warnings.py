"""What an operator must know about a valid spec before deploying it: settings that are allowed but leave a
step to them. `enclave stack init` prints these, and the offline preview reports them beside the region's own
warnings (infra/regions.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from infra.clouds import Cloud
from infra.spec import TenantSpec

# Every cloud module builds a private Kubernetes API endpoint (EKS endpoint_public_access False, GKE
# enable_private_endpoint, AKS private cluster): it is reached from the tenant network and from operator_cidrs.
PRIVATE_API = (
    "the Kubernetes API is private and no operator CIDR is set: `pulumi up` deploys the gateway through that "
    "API, so it must run inside the tenant network; name the VPN, peering or bastion range it runs from with "
    "--operator-cidr (operator_cidrs)"
)


def spec_warnings(spec: TenantSpec) -> tuple[str, ...]:
    warnings: list[str] = []
    registration = spec.cloud_registration
    if not spec.account:
        option = "--" + registration.account_field.replace("_", "-")
        warnings.append(
            f"no {registration.title} account is named: the offline preview stands one in, but `pulumi up` refuses "
            f"the stack until {registration.account_field} ({option}) is set"
        )
    if not spec.operator_cidrs:
        warnings.append(PRIVATE_API)
    egress = spec.connectivity.egress_cidrs
    if spec.sso.issuer_url and not egress:
        host = urlsplit(spec.sso.issuer_url).hostname
        warnings.append(
            f"the gateway reaches only the cloud's private API endpoints on 443: sign-in through {host} fails until "
            "connectivity.egress_cidrs (--egress-cidr) lists the identity provider's published address ranges"
        )
    if spec.cloud is Cloud.AZURE and not egress:
        warnings.append(
            "on Azure the gateway's workload identity exchanges its token with Microsoft Entra ID "
            "(login.microsoftonline.com), which has no private endpoint: list Entra ID's published ranges (service "
            "tag AzureActiveDirectory) in connectivity.egress_cidrs (--egress-cidr), or storage signing fails"
        )
    return tuple(warnings)
