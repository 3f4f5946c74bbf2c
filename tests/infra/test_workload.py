"""The gateway workload and the stack outputs, property by property, on a stand-in cloud."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pytest
from fake_cloud import PASSWORDS, FakeCloud
from redis.connection import parse_url
from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql
from sqlalchemy.engine import make_url

from infra.cloud import BuildContext, EgressAllow, TenantInfrastructure
from infra.mockrun import MockedResource, MockRun, run_program
from infra.pulumi_internals import run_on_pulumi_loop
from infra.spec import TenantSpec
from infra.tenant import TenantStack

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def make_spec(**extra: Any) -> TenantSpec:
    base = {"name": "acme", "cloud": "aws", "region": "eu-west-1", "network_cidr": "10.42.0.0/16"}
    return TenantSpec.model_validate({**base, "hostname": "acme.example.com", **extra})


def run(spec: TenantSpec, cloud: FakeCloud | None = None) -> tuple[MockRun, TenantStack]:
    built: list[TenantStack] = []
    config = {**PASSWORDS, "enclave:ssoClientSecret": "sso-s3cret"}
    result = run_program(
        lambda: built.append(TenantStack(spec, cloud or FakeCloud())), project="enclave", stack="acme", config=config
    )
    return result, built[0]


def unwrap(value: Any) -> Any:
    """A secret input's plain value (the mocks keep Pulumi's secret envelope)."""
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


def named(result: MockRun, type_: str, name: str) -> MockedResource:
    return next(r for r in result.of_type(type_) if r.inputs["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def default() -> tuple[MockRun, TenantStack]:
    return run(make_spec())


def test_every_resource_descends_from_the_tenant_stack(default: tuple[MockRun, TenantStack]) -> None:
    result, _ = default
    root = result.one("enclave:index:TenantStack")
    by_urn = {r.urn: r for r in result.resources}
    for r in result.resources:
        node = r
        while node.parent_urn in by_urn:
            node = by_urn[node.parent_urn]
        assert node is root, f"{r.name} is outside the tenant stack"
        assert r.name.startswith("acme")


@pytest.mark.parametrize(("size", "replicas"), [("small", 2), ("medium", 3), ("large", 4)])
def test_deployment_is_locked_down_and_spread(size: str, replicas: int) -> None:
    result, _ = run(make_spec(size=size))
    deployment = result.one("kubernetes:apps/v1:Deployment").inputs["spec"]
    assert deployment["replicas"] == replicas >= 2
    pod = deployment["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == "enclave-gateway"
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["maxSkew"] == 1
    assert deployment["template"]["metadata"]["labels"]["fake.io/use-identity"] == "true"
    sources = [s.get("configMapRef", s.get("secretRef"))["name"] for s in container["envFrom"]]
    assert sources == ["gateway-config", "gateway-database", "gateway-cache", "gateway-audit", "gateway-secrets"]


def test_disruption_budget_keeps_one_replica(default: tuple[MockRun, TenantStack]) -> None:
    pdb = default[0].one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    assert pdb["minAvailable"] == 1
    assert pdb["selector"]["matchLabels"] == {"app.kubernetes.io/name": "enclave-gateway"}


def test_service_account_carries_the_workload_identity(default: tuple[MockRun, TenantStack]) -> None:
    sa = default[0].one("kubernetes:core/v1:ServiceAccount").inputs
    assert sa["metadata"]["annotations"] == {"fake.io/identity": "platform@fake"}


def test_network_policies_deny_by_default_then_allow_explicitly(default: tuple[MockRun, TenantStack]) -> None:
    result, _ = default
    deny = named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "default-deny").inputs["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    ingress = named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "gateway-ingress").inputs["spec"]
    (rule,) = ingress["ingress"]
    assert {p["port"] for p in rule["ports"]} == {443, 8000}
    egress = named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "gateway-egress").inputs["spec"]
    dns, private, apis = egress["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert [t["ipBlock"]["cidr"] for t in private["to"]] == ["10.42.128.0/20", "10.42.144.0/20"]
    assert {p["port"] for p in private["ports"]} == {3306, 6380}
    # 443 to the cloud's private API endpoints only, never to any host
    assert (apis["to"], apis["ports"]) == (
        [{"ipBlock": {"cidr": "10.42.160.0/24"}}],
        [{"port": 443, "protocol": "TCP"}],
    )


def test_the_gateway_reaches_what_it_calls_and_nothing_else_on_443() -> None:
    """Egress on 443 goes to the cloud's private API endpoints and the spec's egress ranges (the IdP): no rule
    admits 0.0.0.0/0, and every rule names its peers (an empty `to` would admit every destination)."""
    result, _ = run(make_spec(connectivity={"egress_cidrs": ["20.190.128.0/18", "40.126.0.0/18"]}))
    egress = named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "gateway-egress").inputs["spec"]["egress"]
    peers = [t for rule in egress for t in rule["to"]]
    assert all(rule["to"] for rule in egress)
    assert {"ipBlock": {"cidr": "0.0.0.0/0"}} not in peers
    https = [
        t["ipBlock"]["cidr"]
        for rule in egress
        if rule["ports"] == [{"port": 443, "protocol": "TCP"}]
        for t in rule["to"]
    ]
    assert https == ["10.42.160.0/24", "20.190.128.0/18", "40.126.0.0/18"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "0.0.0.0/1", "10.0.0.0/7"])
def test_egress_ranges_are_never_the_internet(cidr: str) -> None:
    with pytest.raises(ValueError, match="too wide"):
        make_spec(connectivity={"egress_cidrs": [cidr]})


def test_public_service_listens_on_443_only(default: tuple[MockRun, TenantStack]) -> None:
    service = default[0].one("kubernetes:core/v1:Service").inputs
    assert service["spec"]["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(443, 8000)]
    assert service["spec"]["loadBalancerSourceRanges"] == []
    assert service["metadata"]["annotations"] == {"fake.io/lb-tls": "true"}


def test_allow_list_limits_the_load_balancer_and_the_pods() -> None:
    result, _ = run(make_spec(connectivity={"allowed_cidrs": ["203.0.113.0/24", "198.51.100.0/24"]}))
    service = result.one("kubernetes:core/v1:Service").inputs["spec"]
    assert service["loadBalancerSourceRanges"] == ["203.0.113.0/24", "198.51.100.0/24"]
    ingress = named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "gateway-ingress").inputs["spec"]
    sources = [s["ipBlock"]["cidr"] for s in ingress["ingress"][0]["from"]]
    assert sources == ["203.0.113.0/24", "198.51.100.0/24", "10.42.0.0/16"]


def test_private_only_gateway_is_reachable_from_the_tenant_network_only() -> None:
    connectivity = {"public_ingress": False, "private_link": True, "private_link_consumers": ["123456789012"]}
    result, _ = run(make_spec(connectivity=connectivity))
    assert result.one("kubernetes:core/v1:Service").inputs["spec"]["loadBalancerSourceRanges"] == ["10.42.0.0/16"]
    ingress = named(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "gateway-ingress").inputs["spec"]
    assert [s["ipBlock"]["cidr"] for s in ingress["ingress"][0]["from"]] == ["10.42.0.0/16"]


def test_secrets_hold_tls_connection_urls(default: tuple[MockRun, TenantStack]) -> None:
    result, _ = default
    db = unwrap(named(result, "kubernetes:core/v1:Secret", "gateway-database").inputs["stringData"])
    url = db["ENCLAVE_DATABASE_URL"]
    assert url.startswith("mysql+pymysql://enclave:db-pass%2Fword%3A1@acme-db-id.db.internal:3306/enclave?")
    assert "ssl_ca=" in url and "ssl_check_hostname=true" in url
    cache = unwrap(named(result, "kubernetes:core/v1:Secret", "gateway-cache").inputs["stringData"])
    assert cache["ENCLAVE_CACHE_URL"] == "rediss://:cache-token%402@cache.internal:6380/0"
    for secret in result.of_type("kubernetes:core/v1:Secret"):
        assert SECRET_SIG in secret.inputs["stringData"], "secret data must stay a Pulumi secret"


def test_config_map_has_storage_grant_and_sso_hints_but_no_secret() -> None:
    sso = {"provider": "microsoft", "issuer_url": "https://login.example.com/v2.0", "client_id": "client-1"}
    result, _ = run(make_spec(sso=sso), FakeCloud(external_id="ext-123"))
    data = result.one("kubernetes:core/v1:ConfigMap").inputs["data"]
    assert data["ENCLAVE_TENANT"] == "acme"
    assert data["ENCLAVE_PUBLIC_URL"] == "https://acme.example.com"
    assert data["ENCLAVE_STORAGE_BUCKET"] == "acme-data"
    assert data["ENCLAVE_STORAGE_PLATFORM_IDENTITY"] == "platform@fake"
    assert data["ENCLAVE_STORAGE_EXTERNAL_ID"] == "ext-123"
    assert data["ENCLAVE_SSO_PROVIDER"] == "microsoft"
    assert data["ENCLAVE_SSO_CLIENT_ID"] == "client-1"
    assert not any("s3cret" in str(v) or "word" in str(v) for v in data.values())
    sso_secret = unwrap(named(result, "kubernetes:core/v1:Secret", "gateway-sso").inputs["stringData"])
    assert sso_secret == {"ENCLAVE_SSO_CLIENT_SECRET": "sso-s3cret"}


def test_kubernetes_provider_gets_the_clusters_kubeconfig_as_a_secret(default: tuple[MockRun, TenantStack]) -> None:
    provider = default[0].one("pulumi:providers:kubernetes")
    assert SECRET_SIG in provider.inputs["kubeconfig"]
    assert unwrap(provider.inputs["kubeconfig"]).startswith("apiVersion: v1")


def resolve(output: pulumi.Output[str]) -> tuple[str | None, bool]:
    return run_on_pulumi_loop(output.future()), run_on_pulumi_loop(output.is_secret())


def test_stack_outputs() -> None:
    _, stack = run(make_spec(), FakeCloud(private_link=True, external_id="ext-123"))
    outputs = {key: resolve(value) for key, value in stack.outputs.items()}
    assert outputs["gatewayUrl"] == ("https://acme.example.com", False)
    assert outputs["privateLinkService"] == ("pls-fake", False)
    assert outputs["platformIdentity"] == ("platform@fake", False)
    assert outputs["platformExternalId"] == ("ext-123", False)
    assert outputs["databaseEndpoint"] == ("acme-db-id.db.internal:3306", False)
    assert outputs["cacheEndpoint"] == ("cache.internal:6380", False)
    assert outputs["databaseUrl"][1] and outputs["cacheUrl"][1], "connection URLs carry credentials: secret"


def test_no_private_link_output_without_private_link(default: tuple[MockRun, TenantStack]) -> None:
    assert "privateLinkService" not in default[1].outputs
    assert "platformExternalId" not in default[1].outputs


# --- a data service signing with its own CA, and a node-local identity endpoint (GCP's shape) ---------------
INSTANCE_CA = "-----BEGIN CERTIFICATE-----\nZGF0YWJhc2U=\n-----END CERTIFICATE-----\n"
CACHE_CA = "-----BEGIN CERTIFICATE-----\nY2FjaGU=\n-----END CERTIFICATE-----\n"


class OwnCaCloud(FakeCloud):
    """The stand-in cloud with per-instance server CAs and a metadata server the pods get tokens from."""

    def build(self, ctx: BuildContext) -> TenantInfrastructure:
        infra = super().build(ctx)
        return replace(
            infra,
            database=replace(infra.database, server_ca=pulumi.Output.from_input(INSTANCE_CA), check_hostname=False),
            cache=replace(infra.cache, server_ca=pulumi.Output.from_input(CACHE_CA), check_hostname=False),
            identity_egress=(EgressAllow("169.254.169.254/32", (80,)), EgressAllow("169.254.169.252/32", (988,))),
        )


@pytest.fixture(scope="module")
def own_ca() -> tuple[MockRun, TenantStack]:
    return run(make_spec(), OwnCaCloud())


def test_instance_cas_are_mounted_and_the_urls_verify_against_them(own_ca: tuple[MockRun, TenantStack]) -> None:
    result, _ = own_ca
    ca = named(result, "kubernetes:core/v1:ConfigMap", "gateway-ca").inputs
    assert ca["data"] == {"database.pem": INSTANCE_CA, "cache.pem": CACHE_CA}
    pod = result.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "server-ca", "mountPath": "/etc/enclave/ca", "readOnly": True} in container["volumeMounts"]
    assert {"name": "server-ca", "configMap": {"name": "gateway-ca", "defaultMode": 0o444}} in pod["volumes"]
    db = unwrap(named(result, "kubernetes:core/v1:Secret", "gateway-database").inputs["stringData"])
    cache = unwrap(named(result, "kubernetes:core/v1:Secret", "gateway-cache").inputs["stringData"])
    # What the drivers make of the URLs: the libraries' own parsers, as the gateway calls them.
    _, db_args = MySQLDialect_pymysql().create_connect_args(make_url(db["ENCLAVE_DATABASE_URL"]))
    assert db_args["ssl"] == {"ca": "/etc/enclave/ca/database.pem", "check_hostname": False}
    cache_args = parse_url(cache["ENCLAVE_CACHE_URL"])
    assert cache_args["ssl_ca_certs"] == "/etc/enclave/ca/cache.pem"
    assert cache_args["ssl_check_hostname"] is False


def test_without_instance_cas_the_image_trust_store_and_host_checks_apply(
    default: tuple[MockRun, TenantStack],
) -> None:
    result, _ = default
    assert not [
        r for r in result.of_type("kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"] == "gateway-ca"
    ]
    db = unwrap(named(result, "kubernetes:core/v1:Secret", "gateway-database").inputs["stringData"])
    _, db_args = MySQLDialect_pymysql().create_connect_args(make_url(db["ENCLAVE_DATABASE_URL"]))
    assert db_args["ssl"] == {"ca": "/etc/ssl/certs/ca-certificates.crt", "check_hostname": True}
    cache = unwrap(named(result, "kubernetes:core/v1:Secret", "gateway-cache").inputs["stringData"])
    assert "ssl_ca_certs" not in parse_url(cache["ENCLAVE_CACHE_URL"])  # redis-py checks the host by default
    pod = result.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert "server-ca" not in {v["name"] for v in pod["volumes"]}


def test_identity_egress_admits_exactly_the_named_endpoints(own_ca: tuple[MockRun, TenantStack]) -> None:
    egress = named(own_ca[0], "kubernetes:networking.k8s.io/v1:NetworkPolicy", "gateway-egress").inputs["spec"]
    extra = [r for r in egress["egress"] if r["to"][0].get("ipBlock", {}).get("cidr", "").startswith("169.254.")]
    assert [(r["to"], r["ports"]) for r in extra] == [
        ([{"ipBlock": {"cidr": "169.254.169.254/32"}}], [{"port": 80, "protocol": "TCP"}]),
        ([{"ipBlock": {"cidr": "169.254.169.252/32"}}], [{"port": 988, "protocol": "TCP"}]),
    ]


def test_the_gateway_component_registers_its_outputs(default: tuple[MockRun, TenantStack]) -> None:
    run, _ = default
    (gateway,) = run.of_type("enclave:index:Gateway")
    assert set(gateway.registered_outputs or ()) == {"namespace", "serviceAccount", "deployment", "service"}
