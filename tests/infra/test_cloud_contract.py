"""The contract every registered cloud module keeps, one suite parametrised by cloud (infra/clouds.py): a new
cloud inherits these tests by registering and adding its spec row to tests/infra/cloud_harness.py.

- the resource tree reads as the architecture: one component per part (`enclave:<cloud>:<Part>`), the part's
  resources under it, everything under the TenantStack, every name the tenant's;
- the provider is pinned to the stack's region, and computed outputs carry the stack's account and region;
- what the workload needs resolves, with credentials as secrets;
- ordering a real control plane needs, as the engine receives it (dependencies, property dependencies,
  parents). The orderings issue 10 section 2 requires that the program does not give yet are listed in
  docs/tenant-stack.md; each cloud's fixes add their tests here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.cloud import Part, PartComponent
from infra.clouds import Cloud, registration, registrations
from infra.mockrun import MockedResource, MockRun, assert_ordered
from tests.infra.cloud_harness import CONTRACT_SECRETS, CloudRun, contract_spec, run_cloud

CLOUDS = [r.cloud for r in registrations()]
# Azure's gateway identity is built with its cluster; only clouds with something to hold in the account build a
# Services part (GCP: APIs and service agents; Azure: the subscription claim).
# Identity sits in Cluster on Azure, Services exists where the cloud has account-level state, and Autoscaling
# only where the cloud does not autoscale nodes by itself (AWS).
REQUIRED_PARTS = set(Part) - {Part.IDENTITY, Part.SERVICES, Part.AUTOSCALING}
_RUNS: dict[Cloud, CloudRun] = {}


@pytest.fixture(params=CLOUDS, ids=[c.value for c in CLOUDS])
def built(request: pytest.FixtureRequest) -> CloudRun:
    cloud: Cloud = request.param
    if cloud not in _RUNS:
        _RUNS[cloud] = run_cloud(contract_spec(cloud))
    return _RUNS[cloud]


def parts(run: MockRun) -> dict[Part, MockedResource]:
    found: dict[Part, MockedResource] = {}
    for r in run.resources:
        kind, _, name = r.type.partition(":")[2].partition(":")
        if r.type.startswith("enclave:") and kind != "index":
            assert Part(name) not in found, f"part {name} built twice"
            found[Part(name)] = r
    return found


def ancestors(run: MockRun, resource: MockedResource) -> Iterator[MockedResource]:
    by_urn = {r.urn: r for r in run.resources}
    node = by_urn.get(resource.parent_urn or "")
    while node is not None:
        yield node
        node = by_urn.get(node.parent_urn or "")


def part_of(run: MockRun, resource: MockedResource) -> Part | None:
    components = {r.urn: p for p, r in parts(run).items()}
    return next((components[a.urn] for a in ancestors(run, resource) if a.urn in components), None)


def test_each_part_is_one_component_typed_for_its_cloud(built: CloudRun) -> None:
    found = parts(built.run)
    assert set(found) >= REQUIRED_PARTS, f"missing parts: {REQUIRED_PARTS - set(found)}"
    stack = built.run.one("enclave:index:TenantStack")
    for part, component in found.items():
        assert component.type == f"enclave:{built.spec.cloud.value}:{part.value}"
        assert component.name == f"acme-{part.slug}"
        assert component.parent_urn == stack.urn
        assert not component.custom
        # a part is a complete component: it registers the outputs it hands to later parts
        assert component.registered_outputs, f"{part.value} registers no outputs"


def test_every_resource_hangs_under_its_part_in_the_tenant_stack(built: CloudRun) -> None:
    stack = built.run.one("enclave:index:TenantStack")
    outside_parts = []
    for r in built.run.resources:
        if r is stack:
            continue
        assert stack in list(ancestors(built.run, r)), f"{r.type} {r.name} is outside the tenant stack"
        assert r.name.startswith("acme-") or r.name == "acme", r.name
        if r.custom and not r.type.startswith("pulumi:providers:") and part_of(built.run, r) is None:
            outside_parts.append(r)
    # Only the cloud's scope may sit beside the parts (Azure's resource group; GCP has none).
    assert len(outside_parts) <= 1, [(r.type, r.name) for r in outside_parts]


def test_the_provider_is_pinned_to_the_stacks_region(built: CloudRun) -> None:
    prefix = f"pulumi:providers:{built.spec.cloud_registration.type_prefix}"
    (provider,) = [r for r in built.run.resources if r.type == prefix]
    assert built.spec.region in provider.inputs.values()


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_computed_outputs_carry_the_stacks_account_and_region(built: CloudRun) -> None:
    values = [s for r in built.run.resources for s in strings(r.outputs)]
    assert built.spec.account is not None
    assert any(built.spec.account in v for v in values), "no computed output names the stack's account"
    assert not [v for v in values if "us-east-1" in v], "outputs name a region the stack is not in"


def test_the_workload_inputs_resolve_and_credentials_stay_secret(built: CloudRun) -> None:
    resolved = built.resolved
    for key in ("cluster_name", "key_id", "db_host", "cache_host", "bucket", "platform_identity", "audit_trail"):
        value, _ = resolved[key]
        assert value, f"{key} resolved to nothing"
    for key in ("kubeconfig", "db_password", "cache_token"):
        assert resolved[key][1], f"{key} is not a secret"
    assert built.infra.private_cidrs
    for key, (value, secret) in resolved.items():
        if any(credential in str(value) for credential in CONTRACT_SECRETS.values()):
            assert secret, f"{key} carries a credential but is not a secret"


PartOrder = tuple[Part, Part]
# Part-level ordering every cloud keeps today: the tenant key exists before the data services and the cluster
# that encrypt with it; the network exists before what runs in it.
PART_ORDER: list[PartOrder] = [
    (Part.KEYS, Part.CLUSTER),
    (Part.KEYS, Part.DATABASE),
    (Part.NETWORK, Part.CLUSTER),
    (Part.NETWORK, Part.DATABASE),
    (Part.NETWORK, Part.CACHE),
]


@pytest.mark.parametrize(("before", "after"), PART_ORDER, ids=[f"{b.slug}-before-{a.slug}" for b, a in PART_ORDER])
def test_parts_are_ordered(built: CloudRun, before: Part, after: Part) -> None:
    run = built.run
    befores = {r.urn for r in run.resources if r.custom and part_of(run, r) is before}
    afters = [r for r in run.resources if r.custom and part_of(run, r) is after]
    assert befores and afters
    assert any(befores & run.waits_for(r) for r in afters), f"nothing in {after.value} waits for {before.value}"


Select = Callable[[MockRun], list[MockedResource]]


def of(type_token: str, name_contains: str = "") -> Select:
    return lambda run: [r for r in run.of_type(type_token) if name_contains in r.name]


def gcp_api_users(run: MockRun) -> list[MockedResource]:
    """Every GCP resource but the API enablements themselves: each calls an API the stack enables."""
    return [
        r for r in run.resources if r.custom and r.type.startswith("gcp:") and r.type != "gcp:projects/service:Service"
    ]


# Resource-level orderings per cloud that hold today (issue 10 section 2), as (before, after) selections.
ORDERINGS: dict[Cloud, list[tuple[str, Select, Select]]] = {
    Cloud.AWS: [
        (
            "trail bucket policy before the trail",
            of("aws:s3/bucketPolicy:BucketPolicy", "audit"),
            of("aws:cloudtrail/trail:Trail"),
        ),
        ("tenant key before the cluster", of("aws:kms/key:Key"), of("aws:eks/cluster:Cluster")),
        ("subnet group before the database", of("aws:rds/subnetGroup:SubnetGroup"), of("aws:rds/instance:Instance")),
        ("cluster before its nodes", of("aws:eks/cluster:Cluster"), of("aws:eks/nodeGroup:NodeGroup")),
        (
            "OIDC provider before the gateway role",
            of("aws:iam/openIdConnectProvider:OpenIdConnectProvider"),
            of("aws:iam/role:Role", "gateway"),
        ),
        # The tenant key's users wait for the policy admitting them (more: tests/infra/aws/test_aws_deployability.py)
        ("key policy before the log groups", of("aws:kms/keyPolicy:KeyPolicy"), of("aws:cloudwatch/logGroup:LogGroup")),
        ("key policy before the cluster", of("aws:kms/keyPolicy:KeyPolicy"), of("aws:eks/cluster:Cluster")),
        ("key policy before the trail", of("aws:kms/keyPolicy:KeyPolicy"), of("aws:cloudtrail/trail:Trail")),
        (
            "Auto Scaling role before the key policy naming it",
            of("aws:iam/serviceLinkedRole:ServiceLinkedRole"),
            of("aws:kms/keyPolicy:KeyPolicy"),
        ),
        ("network policy agent before the nodes", of("aws:eks/addon:Addon"), of("aws:eks/nodeGroup:NodeGroup")),
    ],
    Cloud.GCP: [
        (
            "private services access before Cloud SQL",
            of("gcp:servicenetworking/connection:Connection"),
            of("gcp:sql/databaseInstance:DatabaseInstance"),
        ),
        (
            "Cloud SQL key grant before Cloud SQL",
            of("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "cloud-sql"),
            of("gcp:sql/databaseInstance:DatabaseInstance"),
        ),
        (
            "GKE key grant before the cluster",
            of("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gke"),
            of("gcp:container/cluster:Cluster"),
        ),
        (
            "Memorystore key grant before Memorystore",
            of("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "memorystore"),
            of("gcp:redis/instance:Instance"),
        ),
        (
            "Cloud Storage key grant before the buckets",
            of("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "cloud-storage"),
            of("gcp:storage/bucket:Bucket"),
        ),
        (
            "workload-identity binding after the GKE cluster",
            of("gcp:container/cluster:Cluster"),
            of("gcp:serviceaccount/iAMMember:IAMMember", "workload-identity"),
        ),
        ("enabled APIs before everything that needs them", of("gcp:projects/service:Service"), gcp_api_users),
        *(
            (
                f"{agent} service agent before its key grant",
                of("gcp:projects/serviceIdentity:ServiceIdentity", f"agent-{agent}"),
                of("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", f"key-user-{agent}"),
            )
            for agent in ("cloud-sql", "memorystore", "gke")
        ),
    ],
    Cloud.AZURE: [
        (
            "MySQL private DNS zone before the server",
            of("azure-native:privatedns:PrivateZone", "mysql"),
            of("azure-native:dbformysql:Server"),
        ),
        (
            "MySQL private DNS zone's VNet link before the server",
            of("azure-native:privatedns:VirtualNetworkLink", "mysql"),
            of("azure-native:dbformysql:Server"),
        ),
        (
            "subscription claim before every other Azure resource",
            of("azure-native:resources:ResourceGroup", "subscription-claim"),
            lambda run: [
                r
                for r in run.resources
                if r.custom and r.type.startswith("azure-native:") and not r.name.endswith("subscription-claim")
            ],
        ),
        (
            "cluster identity's roles before the cluster",
            of("azure-native:authorization:RoleAssignment", "aks-identity"),
            of("azure-native:containerservice:ManagedCluster"),
        ),
        ("key vault before the key", of("azure-native:keyvault:Vault"), of("azure-native:keyvault:Key")),
    ],
}
CASES = [(cloud, *case) for cloud, cases in ORDERINGS.items() for case in cases]


@pytest.mark.parametrize(("cloud", "label", "before", "after"), CASES, ids=[f"{c[0].value}: {c[1]}" for c in CASES])
def test_resources_are_ordered(cloud: Cloud, label: str, before: Select, after: Select) -> None:
    if cloud not in _RUNS:
        _RUNS[cloud] = run_cloud(contract_spec(cloud))
    run = _RUNS[cloud].run
    befores, afters = before(run), after(run)
    assert befores and afters, f"{label}: nothing selected"
    for b in befores:
        for a in afters:
            assert_ordered(run, before=b, after=a)


def test_every_registered_cloud_has_orderings_and_a_contract_spec() -> None:
    assert set(ORDERINGS) == set(CLOUDS)


# ------------------------------------------------------------------------------------------ args, not the spec

# The functions that open a cloud's scope (provider, account or project check) and the composition point read the
# TenantSpec; every part takes its args dataclass instead (infra/cloud.py, "Parts").
COMPOSITION = {"build", "aws_context", "account_check", "open_project", "create_scope", "location"}


def _spec_readers(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef)
            and node.name not in COMPOSITION
            and any(isinstance(n, ast.Attribute) and n.attr == "spec" for n in ast.walk(node))
        ):
            found.append(f"{path.parent.name}/{path.name}:{node.name}")
    return found


@pytest.mark.parametrize("cloud", [c.value for c in CLOUDS])
def test_parts_take_their_args_not_the_tenant_spec(cloud: str) -> None:
    package = Path(registration(Cloud(cloud)).module().__file__ or "").parent
    assert [p.name for p in package.glob("*.py")]
    readers = [reader for path in sorted(package.glob("*.py")) for reader in _spec_readers(path)]
    assert readers == []


def test_the_gateway_takes_its_args_not_the_tenant_spec() -> None:
    """The workload is a part too (`enclave:index:Gateway`): `gateway_args` and the spec helpers it calls are its
    composition point, the component reads only its GatewayArgs."""
    import infra.workload

    path = Path(infra.workload.__file__ or "")
    composition = {"gateway_args", "gateway_config", "ingress_sources", "load_balancer_source_ranges"}
    assert [r for r in _spec_readers(path) if r.split(":")[1] not in composition] == []
    hints = typing.get_type_hints(infra.workload.GatewayWorkload.__init__)
    assert hints["args"] is infra.workload.GatewayArgs
    assert infra.workload.GatewayArgs.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_every_part_declares_an_args_dataclass() -> None:
    """Each part component takes `(context, args)`, the args a frozen dataclass (the hub-and-spoke `SpokeVpcArgs`
    shape), except the subscription claim, which needs nothing but where to stand."""
    for entry in registrations():
        entry.module()  # every cloud's parts
    parts = [cls for cls in _subclasses(PartComponent) if cls.__module__.startswith("infra.")]
    assert len(parts) >= 27
    for cls in parts:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        if cls.__name__ == "SubscriptionClaim":
            continue
        assert [p.name for p in parameters] == ["scope", "args"], cls
        args_type = typing.get_type_hints(cls.__init__)["args"]
        assert dataclasses.is_dataclass(args_type) and args_type.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
