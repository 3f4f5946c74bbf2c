"""Kubeconfig for the tenant's AKS cluster, rendered from the API server address and CA that AKS reports.

Local accounts are disabled on the cluster, so the kubeconfig carries no credential: it runs `kubelogin`
to get an Entra ID token for whoever runs Pulumi (the Azure CLI login by default).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import yaml

from infra.kubeconfig import render_exec_kubeconfig

# The Entra ID application every AKS cluster with managed Entra integration accepts tokens for.
AKS_AAD_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


@dataclass(frozen=True)
class ClusterAccess:
    server: str
    certificate_authority_data: str  # base64 PEM, as kubeconfig carries it


def read_cluster_access(encoded_kubeconfig: str) -> ClusterAccess:
    """Server and CA from the base64 kubeconfig that AKS's listClusterUserCredential returns."""
    try:
        document: Any = yaml.safe_load(base64.b64decode(encoded_kubeconfig, validate=True))
        cluster = document["clusters"][0]["cluster"]
        server, ca = cluster["server"], cluster["certificate-authority-data"]
    except (binascii.Error, yaml.YAMLError, KeyError, IndexError, TypeError) as error:
        raise ValueError(f"AKS returned a kubeconfig without a usable cluster entry ({type(error).__name__})") from None
    if not isinstance(server, str) or not server.startswith("https://"):
        raise ValueError("AKS returned a kubeconfig whose server is not an https:// URL")
    if not isinstance(ca, str) or not ca:
        raise ValueError("AKS returned a kubeconfig without certificate-authority-data")
    return ClusterAccess(server=server, certificate_authority_data=ca)


def render_kubeconfig(cluster_name: str, access: ClusterAccess, *, login: str = "azurecli") -> str:
    """A kubeconfig that authenticates through kubelogin."""
    return render_exec_kubeconfig(
        cluster_name=cluster_name,
        server=access.server,
        ca_data=access.certificate_authority_data,
        user=f"{cluster_name}-entra",
        command="kubelogin",
        args=["get-token", "--login", login, "--server-id", AKS_AAD_SERVER_ID],
    )
