"""What a first real `pulumi up` on a fresh GCP project needs and the mocks never checked (issue 10 section 1):
the APIs enabled by the program, the service agents created before their key grants, the project claimed by
its tenant alone, the instances' own CAs handed to the gateway, and the metadata server reachable for the
pods' workload-identity tokens. (The orderings themselves are asserted in tests/infra/test_cloud_contract.py.)"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from infra.gcp import METADATA_SERVER_EGRESS, build
from infra.gcp.mock_outputs import FAKERS, INVOKES, MOCK_PROJECT_NUMBER
from infra.gcp.project import ServiceAgent
from infra.gcp.services import REQUIRED_APIS
from infra.mockrun import MockPlace, MockRun, assert_ordered
from infra.preview import preview_spec
from tests.infra.cloud_harness import resolve, run_build
from tests.infra.gcp.conftest import CONFIG, GcpRun, make_spec

RunFactory = Callable[..., GcpRun]
PROJECT_TOKEN = "gcp:organizations/getProject:getProject"


def test_the_program_enables_every_api_the_stack_calls(gcp_run: RunFactory) -> None:
    run = gcp_run()
    services = run.of_type("gcp:projects/service:Service")
    enabled = {s.inputs["service"] for s in services}
    assert enabled == set(REQUIRED_APIS)
    assert {
        "container.googleapis.com",
        "sqladmin.googleapis.com",
        "redis.googleapis.com",
        "servicenetworking.googleapis.com",
        "cloudkms.googleapis.com",
        "compute.googleapis.com",
        "iam.googleapis.com",
        "logging.googleapis.com",
        "storage.googleapis.com",
    } <= enabled
    component = run.named("enclave:gcp:Services", "acme-services")
    for service in services:
        assert service.inputs["project"] == "acme-prod-123"
        assert service.inputs["disableOnDestroy"] is False  # destroying a tenant never turns an API off
        assert service.parent_urn == component.urn


def test_service_agents_exist_before_the_key_is_granted_to_them(gcp_run: RunFactory) -> None:
    run = gcp_run()
    identities = {i.inputs["service"] for i in run.of_type("gcp:projects/serviceIdentity:ServiceIdentity")}
    assert identities == {"sqladmin.googleapis.com", "redis.googleapis.com", "container.googleapis.com"}
    grants = {g.name: g for g in run.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")}
    for agent in ServiceAgent:
        grant = grants[f"acme-key-user-{agent.name.lower().replace('_', '-')}"]
        expected = f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@{agent.value}.iam.gserviceaccount.com"
        assert grant.inputs["member"] == expected


def _run_with_project(labels: Mapping[str, str] | None) -> MockRun:
    def project(place: MockPlace, _token: str, _name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        return {"projectId": args.get("projectId"), "number": MOCK_PROJECT_NUMBER, "labels": labels or {}}

    spec = make_spec()
    run, _ = run_build(spec, build, fakers=FAKERS, invokes={**INVOKES, PROJECT_TOKEN: project}, config=CONFIG)
    return run


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"enclave-tenant": "acme-corp"}, r"project 'acme-prod-123' belongs to tenant 'acme-corp', not 'acme'"),
        ({"team": "platform"}, r"carries no enclave-tenant label.*--update-labels=enclave-tenant=acme"),
    ],
)
def test_a_project_that_is_not_the_tenants_own_is_refused(labels: Mapping[str, str] | None, message: str) -> None:
    with pytest.raises(Exception, match=message):
        _run_with_project(labels)


def test_the_instances_own_cas_go_to_the_gateway(gcp_run: RunFactory) -> None:
    run = gcp_run()
    infra = run.resolved["infra"]
    sql = run.one("gcp:sql/databaseInstance:DatabaseInstance").outputs["serverCaCerts"][0]["cert"]
    redis = run.one("gcp:redis/instance:Instance").outputs["serverCaCerts"][0]["cert"]
    assert infra.database.server_ca is not None and infra.cache.server_ca is not None
    assert resolve(infra.database.server_ca)[0] == sql
    assert resolve(infra.cache.server_ca)[0] == redis
    assert infra.database.check_hostname is False and infra.cache.check_hostname is False


def test_pods_may_reach_the_gke_metadata_server(gcp_run: RunFactory) -> None:
    infra = gcp_run().resolved["infra"]
    assert infra.identity_egress == METADATA_SERVER_EGRESS
    assert {(e.cidr, e.ports) for e in infra.identity_egress} == {
        ("169.254.169.254/32", (80,)),
        ("169.254.169.252/32", (988,)),
    }


@pytest.fixture(scope="module")
def whole_stack() -> Any:
    """The whole tenant program (cloud module and workload) as `enclave stack preview` runs it."""
    return preview_spec(make_spec())


def test_the_whole_stack_wires_cas_and_metadata_egress_and_passes_policy(whole_stack: Any) -> None:
    resources = whole_stack.resources
    config_maps = {r.inputs["metadata"]["name"]: r for r in resources if r.type == "kubernetes:core/v1:ConfigMap"}
    assert set(config_maps["gateway-ca"].inputs["data"]) == {"database.pem", "cache.pem"}
    policies = {
        r.inputs["metadata"]["name"]: r for r in resources if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    }
    rules = policies["gateway-egress"].inputs["spec"]["egress"]
    blocks = {(t["ipBlock"]["cidr"], p["port"]) for r in rules for t in r["to"] if "ipBlock" in t for p in r["ports"]}
    assert {("169.254.169.254/32", 80), ("169.254.169.252/32", 988)} <= blocks
    assert not whole_stack.violations, [f"{v.rule}: {v.message}" for v in whole_stack.violations]


# ------------------------------------------------------------------------------------------- the cluster API


def test_operator_cidrs_reach_the_private_control_plane(gcp_run: RunFactory) -> None:
    """A private-endpoint cluster admits only its authorized networks: without the operators' ranges there,
    `pulumi up` (run from the VPN or bastion of `operator_cidrs`) cannot deploy the workload (GKE "About network
    isolation"), as the AWS stack's control-plane security group admits them."""
    run = gcp_run(operator_cidrs=["10.99.0.0/16", "172.16.5.0/24"])
    cluster = run.one("gcp:container/cluster:Cluster").inputs
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is True
    blocks = [b["cidrBlock"] for b in cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert blocks == ["10.20.0.0/16", "10.99.0.0/16", "172.16.5.0/24"]
    assert cluster["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False


def test_no_node_runs_as_the_compute_engine_default_account(gcp_run: RunFactory) -> None:
    """The default node pool is created with the cluster before it is removed, with the cluster's node_config:
    left unset it runs as the Compute Engine default account (Editor). Both pools use the stack's node account,
    and its roles are in place before the cluster creates any node."""
    run = gcp_run()
    account = run.named("gcp:serviceaccount/account:Account", "acme-nodes")
    cluster = run.one("gcp:container/cluster:Cluster")
    pool = run.one("gcp:container/nodePool:NodePool")
    assert cluster.inputs["removeDefaultNodePool"] is True
    for config in (cluster.inputs["nodeConfig"], pool.inputs["nodeConfig"]):
        assert config["serviceAccount"] == account.outputs["email"]
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    for grant in run.of_type("gcp:projects/iAMMember:IAMMember"):
        if grant.name.startswith("acme-nodes-"):
            assert_ordered(run.run, before=grant, after=cluster)


# ------------------------------------------------------------------------------------------- gateway egress


def test_google_apis_resolve_to_the_private_vip(gcp_run: RunFactory) -> None:
    """Private Google Access through private.googleapis.com: a private googleapis.com zone on the tenant VPC
    sends every API name to 199.36.153.8/30, the only 443 destination the gateway's NetworkPolicy admits
    besides the spec's IdP ranges ("Configure Private Google Access", DNS configuration)."""
    run = gcp_run()
    zone = run.one("gcp:dns/managedZone:ManagedZone").inputs
    assert (zone["dnsName"], zone["visibility"]) == ("googleapis.com.", "private")
    network = run.one("gcp:compute/network:Network").outputs["id"]
    assert zone["privateVisibilityConfig"]["networks"] == [{"networkUrl": network}]
    records = {r.inputs["type"]: r.inputs for r in run.of_type("gcp:dns/recordSet:RecordSet")}
    assert records["A"]["name"] == "private.googleapis.com."
    assert records["A"]["rrdatas"] == ["199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11"]
    assert (records["CNAME"]["name"], records["CNAME"]["rrdatas"]) == ("*.googleapis.com.", ["private.googleapis.com."])
    assert run.one("gcp:compute/subnetwork:Subnetwork").inputs["privateIpGoogleAccess"] is True
    assert "dns.googleapis.com" in REQUIRED_APIS
