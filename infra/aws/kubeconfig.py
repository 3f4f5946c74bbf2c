"""The kubeconfig for an EKS cluster (pure): short-lived tokens from `aws eks get-token`, never a stored
credential, so the document holds no secret itself; it is still marked secret as it maps the private API."""

from __future__ import annotations

import json

AUTH_API_VERSION = "client.authentication.k8s.io/v1beta1"


def render_kubeconfig(*, cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    if not endpoint.startswith("https://"):
        raise ValueError(f"EKS endpoint must be https, got {endpoint!r}")
    if not ca_data:
        raise ValueError("EKS cluster certificate authority data is empty")
    user = f"{cluster_name}-aws"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": user,
                "user": {
                    "exec": {
                        "apiVersion": AUTH_API_VERSION,
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }
    return json.dumps(document, indent=2)  # JSON is YAML: kubectl and pulumi-kubernetes read it as is
