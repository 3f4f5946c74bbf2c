"""The GCP cloud module under Pulumi mocks: every part exists, with its security settings, for every size."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.gcp import policy as t
from infra.spec import TENANT_TAG
from tests.infra.gcp.conftest import CACHE_TOKEN, DATABASE_PASSWORD, GcpRun

RunFactory = Callable[..., GcpRun]
SIZES = ("small", "medium", "large")
KEY_ID = "projects/acme-prod-123/locations/europe-west1/keyRings/acme-keys/cryptoKeys/acme-key"


@pytest.fixture(params=SIZES)
def sized(request: pytest.FixtureRequest, gcp_run: RunFactory) -> GcpRun:
    return gcp_run(size=request.param)


def test_every_resource_is_named_for_the_tenant(sized: GcpRun) -> None:
    """(How resources hang under the parts is the contract suite's: tests/infra/test_cloud_contract.py.)"""
    stack = sized.one("enclave:index:TenantStack")
    for resource in sized.run.resources:
        if resource is not stack:
            assert resource.name.startswith("acme-"), resource.name


def test_provider_is_pinned_to_project_and_region(sized: GcpRun) -> None:
    provider = sized.one("pulumi:providers:gcp")
    assert provider.inputs["project"] == "acme-prod-123"
    assert provider.inputs["region"] == "europe-west1"


def test_keys_rotate_and_are_protected(sized: GcpRun) -> None:
    ring = sized.one(t.KEY_RING)
    key = sized.one(t.CRYPTO_KEY)
    assert ring.inputs["location"] == "europe-west1"
    assert ring.protect and key.protect
    assert key.inputs["rotationPeriod"] == "7776000s"
    assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"
    assert key.inputs["deletionPolicy"] == "PREVENT"
    assert key.inputs["labels"][TENANT_TAG] == "acme"
    assert sized.resolved["key_id"] == KEY_ID
    grants = sized.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    members = {g.inputs["member"] for g in grants}
    assert {g.inputs["cryptoKeyId"] for g in grants} == {KEY_ID}
    assert members == {
        "serviceAccount:service-123456789012@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        "serviceAccount:service-123456789012@cloud-redis.iam.gserviceaccount.com",
        "serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com",
        "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com",
    }


def test_network_is_private_with_flow_logs_and_nat(sized: GcpRun) -> None:
    vpc = sized.one(t.NETWORK)
    assert vpc.inputs["autoCreateSubnetworks"] is False
    subnet = sized.named(t.SUBNETWORK, "acme-nodes")
    assert subnet.inputs["ipCidrRange"] == "10.20.128.0/19"
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA"
    ranges = {r["rangeName"]: r["ipCidrRange"] for r in subnet.inputs["secondaryIpRanges"]}
    assert ranges == {"acme-pods": "10.20.0.0/17", "acme-services": "10.20.160.0/19"}
    nat = sized.one("gcp:compute/routerNat:RouterNat")
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat.inputs["logConfig"]["enable"] is True
    psa = sized.one(t.GLOBAL_ADDRESS)
    assert (psa.inputs["purpose"], psa.inputs["address"], psa.inputs["prefixLength"]) == (
        "VPC_PEERING",
        "10.20.192.0",
        20,
    )
    connection = sized.one("gcp:servicenetworking/connection:Connection")
    assert connection.inputs["reservedPeeringRanges"] == ["acme-private-services"]
    assert sized.resolved["infra"].private_cidrs == ("10.20.192.0/20",)
    assert not sized.of_type(t.FIREWALL)  # nothing opened beyond GCP's implied deny
    assert not sized.of_type(t.ADDRESS)


def test_cluster_is_private_encrypted_and_uses_workload_identity(sized: GcpRun) -> None:
    cluster = sized.one(t.CLUSTER)
    i = cluster.inputs
    assert i["location"] == "europe-west1"
    assert i["nodeLocations"] == ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
    assert i["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": "10.20.212.0/28",
    }
    assert [b["cidrBlock"] for b in i["masterAuthorizedNetworksConfig"]["cidrBlocks"]] == ["10.20.0.0/16"]
    assert i["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": KEY_ID}
    assert i["workloadIdentityConfig"]["workloadPool"] == "acme-prod-123.svc.id.goog"
    assert i["releaseChannel"]["channel"] == "REGULAR"
    assert "APISERVER" in i["loggingConfig"]["enableComponents"]
    assert i["datapathProvider"] == "ADVANCED_DATAPATH"
    assert i["deletionProtection"] is True
    assert i["removeDefaultNodePool"] is True
    assert i["resourceLabels"][TENANT_TAG] == "acme"


def test_node_pool_follows_the_preset(sized: GcpRun) -> None:
    pool = sized.one(t.NODE_POOL)
    preset = sized.spec.preset
    assert pool.inputs["autoscaling"]["totalMinNodeCount"] == preset.node_count_min
    assert pool.inputs["autoscaling"]["totalMaxNodeCount"] == preset.node_count_max
    config = pool.inputs["nodeConfig"]
    assert config["machineType"] == preset.node_machine_type
    assert config["serviceAccount"] == "acme-nodes@acme-prod-123.iam.gserviceaccount.com"
    assert config["workloadMetadataConfig"]["mode"] == "GKE_METADATA"
    assert config["shieldedInstanceConfig"]["enableSecureBoot"] is True
    assert config["resourceLabels"][TENANT_TAG] == "acme"


def test_kubeconfig_is_secret_and_points_at_the_private_endpoint(sized: GcpRun) -> None:
    assert sized.resolved["secret:kubeconfig"] is True
    config = json.loads(sized.resolved["kubeconfig"])
    assert config["clusters"][0]["cluster"]["server"] == "https://10.20.212.2"
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert sized.resolved["cluster_name"] == "acme-gke"


def test_database_is_private_tls_encrypted_backed_up_and_protected(sized: GcpRun) -> None:
    db = sized.one(t.SQL)
    s = db.inputs["settings"]
    assert db.inputs["databaseVersion"] == "MYSQL_8_0"
    assert db.inputs["encryptionKeyName"] == KEY_ID
    assert db.inputs["deletionProtection"] is True and s["deletionProtectionEnabled"] is True and db.protect
    assert s["ipConfiguration"]["ipv4Enabled"] is False
    assert s["ipConfiguration"]["privateNetwork"] == "acme-vpc-id"
    assert s["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
    backups = s["backupConfiguration"]
    assert backups["enabled"] is True and backups["binaryLogEnabled"] is True
    assert backups["backupRetentionSettings"]["retainedBackups"] >= 7
    assert backups["transactionLogRetentionDays"] >= 7
    assert s["finalBackupConfig"]["enabled"] is True
    assert s["tier"] == sized.spec.preset.db_instance_class
    assert s["diskSize"] == sized.spec.preset.db_storage_gb
    expected_ha = "REGIONAL" if sized.spec.size != "small" else "ZONAL"
    assert s["availabilityType"] == expected_ha
    assert s["userLabels"][TENANT_TAG] == "acme"
    user = sized.one("gcp:sql/user:User")
    assert user.inputs["name"] == "enclave"
    assert sized.resolved["db_password"] == DATABASE_PASSWORD
    assert sized.resolved["secret:db_password"] is True


def test_cache_is_tls_auth_cmek_and_private(sized: GcpRun) -> None:
    redis = sized.one(t.REDIS)
    i = redis.inputs
    assert i["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert i["authEnabled"] is True
    assert i["customerManagedKey"] == KEY_ID
    assert i["connectMode"] == "PRIVATE_SERVICE_ACCESS"
    assert i["reservedIpRange"] == "acme-private-services"
    assert i["tier"] == sized.spec.preset.cache_node_type
    assert ("alternativeLocationId" in i) is (sized.spec.size != "small")
    assert redis.protect and i["deletionProtection"] is True
    infra = sized.resolved["infra"]
    assert infra.cache.port == 6378
    assert sized.resolved["secret:cache_token"] is True


def test_managed_bucket_is_private_versioned_encrypted_with_gateway_cors(sized: GcpRun) -> None:
    bucket = sized.named(t.BUCKET, "acme-data")
    i = bucket.inputs
    assert i["name"] == "acme-data-acme-prod-123"
    assert i["publicAccessPrevention"] == "enforced"
    assert i["uniformBucketLevelAccess"] is True
    assert i["versioning"]["enabled"] is True
    assert i["encryption"]["defaultKmsKeyName"] == KEY_ID
    assert i["cors"][0]["origins"] == ["https://acme.enclave.example.com"]
    assert bucket.protect
    grant = sized.named(t.BUCKET_MEMBER, "acme-data-gateway")
    assert grant.inputs["member"] == "serviceAccount:acme-gateway@acme-prod-123.iam.gserviceaccount.com"
    assert sized.resolved["bucket"] == "acme-data-acme-prod-123"


def test_gateway_identity_is_bound_to_the_gateway_service_account(sized: GcpRun) -> None:
    binding = sized.named("gcp:serviceaccount/iAMMember:IAMMember", "acme-gateway-workload-identity")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == "serviceAccount:acme-prod-123.svc.id.goog[enclave/enclave-gateway]"
    email = "acme-gateway@acme-prod-123.iam.gserviceaccount.com"
    assert sized.resolved["sa:iam.gke.io/gcp-service-account"] == email
    assert sized.resolved["platform_identity"] == email


def test_audit_logs_flow_into_a_locked_encrypted_bucket(sized: GcpRun) -> None:
    audit = sized.one("gcp:projects/iAMAuditConfig:IAMAuditConfig")
    assert {c["logType"] for c in audit.inputs["auditLogConfigs"]} == {"ADMIN_READ", "DATA_READ", "DATA_WRITE"}
    bucket = sized.named(t.BUCKET, "acme-audit")
    assert bucket.inputs["retentionPolicy"] == {"retentionPeriod": str(365 * 86400), "isLocked": True}
    assert bucket.inputs["encryption"]["defaultKmsKeyName"] == KEY_ID
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    sink = sized.one(t.SINK)
    assert sink.inputs["destination"] == "storage.googleapis.com/acme-audit-acme-prod-123"
    assert "cloudaudit.googleapis.com" in sink.inputs["filter"]
    writer = sized.named(t.BUCKET_MEMBER, "acme-audit-writer")
    assert writer.inputs["member"].endswith("@gcp-sa-logging.iam.gserviceaccount.com")
    assert writer.inputs["role"] == "roles/storage.objectCreator"
    assert sized.resolved["audit_trail"] == "acme-audit"


def test_public_gateway_uses_an_external_passthrough_balancer(sized: GcpRun) -> None:
    infra = sized.resolved["infra"]
    assert dict(infra.load_balancer_annotations) == {"cloud.google.com/l4-rbs": "enabled"}
    assert infra.private_link_service is None
    assert not sized.of_type(t.SERVICE_ATTACHMENT)


def test_secrets_never_appear_in_plain_inputs(sized: GcpRun) -> None:
    for resource in sized.run.resources:
        text = json.dumps(resource.inputs, default=str)
        assert CACHE_TOKEN not in text, resource.name
        if resource.type != "gcp:sql/user:User":
            assert DATABASE_PASSWORD not in text, resource.name


# --- variants ------------------------------------------------------------------------------------------


def test_private_link_publishes_the_gateway_to_listed_consumers_only(gcp_run: RunFactory) -> None:
    run = gcp_run(connectivity={"private_link": True, "private_link_consumers": ["customer-vpc-1", "123456789"]})
    attachment = run.one(t.SERVICE_ATTACHMENT)
    assert attachment.inputs["connectionPreference"] == "ACCEPT_MANUAL"
    consumers = [c["projectIdOrNum"] for c in attachment.inputs["consumerAcceptLists"]]
    assert consumers == ["customer-vpc-1", "123456789"]
    nat = run.named(t.SUBNETWORK, "acme-psc-nat")
    assert nat.inputs["purpose"] == "PRIVATE_SERVICE_CONNECT"
    assert attachment.inputs["natSubnets"] == ["acme-psc-nat-id"]
    rule = run.one(t.FORWARDING_RULE)
    assert rule.inputs["loadBalancingScheme"] == "INTERNAL" and rule.inputs["ports"] == ["443"]
    assert attachment.inputs["targetService"] == "acme-psc-gateway-id"
    backend = run.one("gcp:compute/regionBackendService:RegionBackendService")
    assert len(backend.inputs["backends"]) == 3
    assert run.one(t.ADDRESS).inputs["addressType"] == "INTERNAL"
    firewall = run.one(t.FIREWALL)
    assert "0.0.0.0/0" not in firewall.inputs["sourceRanges"]
    assert run.resolved["private_link_service"] == "https://mock.invalid/acme-gateway-psc"
    assert run.resolved["extra:privateLinkAddress"] == run.one(t.ADDRESS).outputs["address"]


def test_private_only_gateway_gets_an_internal_balancer(gcp_run: RunFactory) -> None:
    run = gcp_run(connectivity={"public_ingress": False, "private_link": True, "private_link_consumers": ["cust-1a"]})
    annotations = dict(run.resolved["infra"].load_balancer_annotations)
    assert annotations == {"networking.gke.io/load-balancer-type": "Internal"}


def test_allowed_cidrs_open_nothing_in_the_vpc_firewall(gcp_run: RunFactory) -> None:
    run = gcp_run(connectivity={"allowed_cidrs": ["203.0.113.0/24"]})
    assert not run.of_type(t.FIREWALL)  # the GKE Service's loadBalancerSourceRanges carries the allow list
    assert not run.of_type(t.ADDRESS)


def test_peering_joins_the_customer_vpc_and_allows_only_the_listener(gcp_run: RunFactory) -> None:
    peering = {"peer_network": "corp-net", "peer_owner": "customer-vpc-1", "peer_cidr": "192.168.0.0/20"}
    run = gcp_run(connectivity={"peering": peering})
    link = run.one("gcp:compute/networkPeering:NetworkPeering")
    assert link.inputs["peerNetwork"] == "projects/customer-vpc-1/global/networks/corp-net"
    assert link.inputs["exportCustomRoutes"] is False
    firewall = run.named(t.FIREWALL, "acme-allow-peer")
    assert firewall.inputs["sourceRanges"] == ["192.168.0.0/20"]
    assert firewall.inputs["allows"] == [{"protocol": "tcp", "ports": ["443"]}]
    networks = run.one(t.CLUSTER).inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert [b["cidrBlock"] for b in networks] == ["10.20.0.0/16", "192.168.0.0/20"]


def test_byob_creates_no_bucket_and_hands_the_platform_identity(gcp_run: RunFactory) -> None:
    run = gcp_run(storage={"mode": "byob", "bucket": "customer-data", "customer_account": "customer-proj"})
    assert [b.name for b in run.of_type(t.BUCKET)] == ["acme-audit"]
    assert run.resolved["bucket"] == "customer-data"
    assert run.resolved["platform_identity"] == "acme-gateway@acme-prod-123.iam.gserviceaccount.com"
    assert run.resolved["infra"].storage.external_id is None


def test_customer_managed_key_replaces_the_tenant_key(gcp_run: RunFactory) -> None:
    key = "projects/customer-kms-1/locations/europe-west1/keyRings/ring/cryptoKeys/enclave"
    run = gcp_run(customer_managed_key=key)
    assert not run.of_type(t.KEY_RING) and not run.of_type(t.CRYPTO_KEY)
    assert not run.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert run.one(t.SQL).inputs["encryptionKeyName"] == key
    assert run.one(t.REDIS).inputs["customerManagedKey"] == key
    assert run.one(t.CLUSTER).inputs["databaseEncryption"]["keyName"] == key
    assert {b.inputs["encryption"]["defaultKmsKeyName"] for b in run.of_type(t.BUCKET)} == {key}
    assert run.resolved["key_id"] == key
    assert "container-engine-robot" in run.resolved["extra:kmsKeyUsers"]


def test_without_deletion_protection_nothing_is_protected(gcp_run: RunFactory) -> None:
    run = gcp_run(deletion_protection=False)
    assert not [r.name for r in run.run.resources if r.protect]
    assert run.one(t.SQL).inputs["deletionProtection"] is False
    assert run.one(t.CLUSTER).inputs["deletionProtection"] is False
    assert run.one(t.CRYPTO_KEY).inputs["deletionPolicy"] == "DELETE"
    assert run.named(t.BUCKET, "acme-audit").inputs["retentionPolicy"]["isLocked"] is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"customer_managed_key": "arn:aws:kms:eu-west-1:1:key/x"}, "must be a Cloud KMS key name"),
        (
            {"customer_managed_key": "projects/customer-kms-1/locations/us-east1/keyRings/r/cryptoKeys/k"},
            "tenant runs in 'europe-west1'",
        ),
        ({"connectivity": {"private_link": True, "private_link_consumers": ["Not A Project"]}}, "not a GCP project"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(gcp_run: RunFactory, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        gcp_run(**overrides)
