"""One kubeconfig shape for every cloud: the cluster's private API server and CA, and an exec credential
plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`) that fetches a short-lived token at use
time, so the document holds no credential itself. It is still marked secret: it maps the private API."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def render_exec_kubeconfig(
    *,
    cluster_name: str,
    server: str,
    ca_data: str,
    user: str,
    command: str,
    args: Sequence[str] = (),
    extra_exec: Mapping[str, str | bool] | None = None,
) -> str:
    """A kubeconfig document (JSON, which is valid YAML; json quotes every value safely)."""
    if not server.startswith("https://"):
        raise ValueError(f"cluster {cluster_name!r}: API server must be an https:// URL, got {server!r}")
    if not ca_data:
        raise ValueError(f"cluster {cluster_name!r} has no certificate authority data")
    exec_config: dict[str, object] = {
        "apiVersion": EXEC_API_VERSION,
        "command": command,
        "args": list(args),
        "interactiveMode": "Never",
        **(extra_exec or {}),
    }
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "users": [{"name": user, "user": {"exec": exec_config}}],
    }
    return json.dumps(document, indent=2)
