"""The kubeconfig for an EKS cluster (pure): short-lived tokens from `aws eks get-token`, never a stored
credential, so the document holds no secret itself; it is still marked secret as it maps the private API."""

from __future__ import annotations

from infra.kubeconfig import render_exec_kubeconfig


def render_kubeconfig(*, cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    return render_exec_kubeconfig(
        cluster_name=cluster_name,
        server=endpoint,
        ca_data=ca_data,
        user=f"{cluster_name}-aws",
        command="aws",
        args=["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
    )
