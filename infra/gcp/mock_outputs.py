"""Outputs the real GCP provider computes and this module reads, for runs under Pulumi mocks (tests and the
offline preview). Each is derived from the resource's own inputs, so two resources never share a value."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Mapping
from typing import Any

import pulumi

from infra.mockrun import MockPlace, OutputFaker
from infra.spec import TENANT_TAG

MOCK_PROJECT_NUMBER = "123456789012"


def _digest(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big")


def _fake_ip(name: str) -> str:
    """A stable address in 10.255.0.0/16 for a resource, for values the mock cannot know."""
    return str(ipaddress.IPv4Address("10.255.0.0") + _digest(name))


def _key_ring(place: MockPlace, _type: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    project, location = inputs.get("project", place.account), inputs.get("location", place.region)
    return {"id": f"projects/{project}/locations/{location}/keyRings/{inputs.get('name', name)}"}


def _crypto_key(place: MockPlace, _type: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": f"{inputs.get('keyRing', 'mock-ring')}/cryptoKeys/{inputs.get('name', name)}"}


def _service_account(place: MockPlace, _type: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    email = f"{inputs.get('accountId', name)}@{inputs.get('project', 'mock-project')}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "name": f"projects/-/serviceAccounts/{email}"}


_AGENT_DOMAINS = {
    "sqladmin.googleapis.com": "gcp-sa-cloud-sql",
    "redis.googleapis.com": "cloud-redis",
    "container.googleapis.com": "container-engine-robot",
}


def _fake_pem(name: str) -> str:
    body = base64.b64encode(f"mock CA of {name}".encode()).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def _service_identity(place: MockPlace, _type: str, _name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    domain = _AGENT_DOMAINS.get(inputs.get("service", ""), "gcp-sa-mock")
    email = f"service-{MOCK_PROJECT_NUMBER}@{domain}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def _project(place: MockPlace, _token: str, _name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The tenant's project as the operator prepared it: labelled for the stack's tenant (the stack is named
    after its tenant), so the program's claim check passes; tests swap this to check the refusals."""
    project = args.get("projectId") or place.account
    labels = {TENANT_TAG: pulumi.get_stack()}
    return {"projectId": project, "number": MOCK_PROJECT_NUMBER, "labels": labels, "effectiveLabels": labels}


def _storage_agent(place: MockPlace, _token: str, _name: str, _args: Mapping[str, Any]) -> dict[str, Any]:
    email = f"service-{MOCK_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
    return {"emailAddress": email, "member": f"serviceAccount:{email}"}


def _cluster(place: MockPlace, _type: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    control_plane = inputs.get("privateClusterConfig", {}).get("masterIpv4CidrBlock", "172.16.0.0/28")
    endpoint = str(ipaddress.IPv4Network(control_plane)[2])
    ca = base64.b64encode(f"-----BEGIN CERTIFICATE-----\nmock CA of {name}\n-----END CERTIFICATE-----\n".encode())
    master_auth = {"clusterCaCertificate": ca.decode(), "clientCertificateConfig": {"issueClientCertificate": False}}
    return {"endpoint": endpoint, "masterAuth": master_auth}


def _node_pool(place: MockPlace, _type: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    project = inputs.get("project", place.account)
    return {
        "managedInstanceGroupUrls": [
            f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/instanceGroups/gke-{name}-grp"
            for zone in inputs.get("nodeLocations", [])
        ]
    }


def _sql_instance(place: MockPlace, _type: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    project = inputs.get("project", place.account)
    return {
        "privateIpAddress": _fake_ip(name),
        "connectionName": f"{project}:{inputs.get('region', 'mock-region')}:{inputs.get('name', name)}",
        "serverCaCerts": [
            {"cert": _fake_pem(name), "commonName": "C=US,O=Google\\, Inc,CN=Google Cloud SQL Server CA"}
        ],
    }


def _redis_instance(place: MockPlace, _type: str, name: str, _inputs: Mapping[str, Any]) -> dict[str, Any]:
    auth = hashlib.sha256(f"mock-auth-{name}".encode()).hexdigest()
    return {"host": _fake_ip(name), "port": 6378, "authString": auth, "serverCaCerts": [{"cert": _fake_pem(name)}]}


def _address(place: MockPlace, _type: str, name: str, _inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"address": _fake_ip(name)}


def _sink(place: MockPlace, _type: str, name: str, _inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"writerIdentity": f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gcp-sa-logging.iam.gserviceaccount.com"}


FAKERS: dict[str, OutputFaker] = {
    "gcp:kms/keyRing:KeyRing": _key_ring,
    "gcp:kms/cryptoKey:CryptoKey": _crypto_key,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:container/nodePool:NodePool": _node_pool,
    "gcp:sql/databaseInstance:DatabaseInstance": _sql_instance,
    "gcp:redis/instance:Instance": _redis_instance,
    "gcp:compute/address:Address": _address,
    "gcp:logging/projectSink:ProjectSink": _sink,
}

INVOKES: dict[str, OutputFaker] = {
    "gcp:organizations/getProject:getProject": _project,
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": _storage_agent,
}
