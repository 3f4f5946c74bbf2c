"""The one kubeconfig shape every cloud renders."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.kubeconfig import render_exec_kubeconfig


def test_renders_an_exec_credential_kubeconfig_readable_as_yaml() -> None:
    text = render_exec_kubeconfig(
        cluster_name="acme", server="https://10.0.0.2", ca_data="Q0E=", user="acme-u", command="tool", args=["a", "b"]
    )
    document = yaml.safe_load(text)
    assert document == json.loads(text)
    assert document["current-context"] == "acme"
    assert document["clusters"][0]["cluster"] == {"server": "https://10.0.0.2", "certificate-authority-data": "Q0E="}
    (user,) = document["users"]
    assert user["name"] == "acme-u"
    assert user["user"] == {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "tool",
            "args": ["a", "b"],
            "interactiveMode": "Never",
        }
    }


@pytest.mark.parametrize(
    ("server", "ca", "message"),
    [("http://10.0.0.2", "Q0E=", "https://"), ("https://10.0.0.2", "", "certificate authority")],
)
def test_refuses_plain_http_and_a_missing_ca(server: str, ca: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_exec_kubeconfig(cluster_name="acme", server=server, ca_data=ca, user="u", command="tool")
