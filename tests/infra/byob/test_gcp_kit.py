"""The security-relevant properties of the committed Google Cloud kit, read from its JSON and evaluated for a
tenant's values. No GCS or IAM emulator runs here: the binding's condition is checked as text against the
resource names Cloud Storage gives IAM Conditions (projects/_/buckets/B/objects/O)."""

from __future__ import annotations

from typing import Any

from storage_connector.backends import parse_spec
from tests.infra.byob.terraform_eval import Scope, load_kit

VALUES = {
    "tenant": "acme-eu",
    "project": "acme-data-123456",
    "location": "europe-west1",
    "bucket_name": "acme-enclave-data",
    "prefix": "tenants/acme-eu/",
    "platform_service_account": "acme-gateway@enclave-acme-prod.iam.gserviceaccount.com",
    "gateway_url": "https://acme.enclave.example.com",
}
ATTRIBUTES = {
    "data.google_storage_project_service_account.storage_agent": {
        "email_address": "service-1@gs-project-accounts.iam.gserviceaccount.com"
    },
    "google_kms_crypto_key.bucket_key": {
        "id": "projects/acme-data-123456/locations/europe-west1/keyRings/r/cryptoKeys/bucket"
    },
    "google_kms_key_ring.key_ring": {"id": "projects/acme-data-123456/locations/europe-west1/keyRings/enclave-acme-eu"},
    "google_project_iam_custom_role.objects_role": {"name": "projects/acme-data-123456/roles/enclave_acme_eu_objects"},
}
KIT = load_kit("gcp")


def scope(**changes: Any) -> Scope:
    return Scope(KIT, {**VALUES, **changes}, ATTRIBUTES)


def test_the_platform_gets_object_read_write_list_only() -> None:
    role = scope().value(KIT["resource"]["google_project_iam_custom_role"]["objects_role"])
    assert sorted(role["permissions"]) == ["storage.objects.create", "storage.objects.get", "storage.objects.list"]
    assert role["role_id"] == "enclave_acme_eu_objects"  # custom role ids take no hyphens
    binding = scope().value(KIT["resource"]["google_storage_bucket_iam_member"]["platform_objects"])
    assert binding["member"] == "serviceAccount:" + VALUES["platform_service_account"]
    assert binding["bucket"] == VALUES["bucket_name"]
    assert binding["role"] == ATTRIBUTES["google_project_iam_custom_role.objects_role"]["name"]
    roles = {b["role"] for blocks in KIT["resource"].values() for b in blocks.values() if "role" in b}
    assert roles == {
        "${google_project_iam_custom_role.objects_role.name}",
        "roles/cloudkms.cryptoKeyEncrypterDecrypter",
    }


def test_the_binding_is_confined_to_the_prefix() -> None:
    condition = scope().value(KIT["resource"]["google_storage_bucket_iam_member"]["platform_objects"])["condition"]
    assert condition["expression"] == (
        'resource.type == "storage.googleapis.com/Bucket" || '
        'resource.name.startsWith("projects/_/buckets/acme-enclave-data/objects/tenants/acme-eu/")'
    )


def test_the_switch_removes_the_binding() -> None:
    assert scope().count("resource", "google_storage_bucket_iam_member", "platform_objects") == 1
    assert scope(access_enabled=False).count("resource", "google_storage_bucket_iam_member", "platform_objects") == 0
    assert scope(access_enabled=False).count("resource", "google_project_iam_custom_role", "objects_role") is None


def test_the_bucket_is_uniform_private_versioned_and_cmek() -> None:
    s = scope()
    bucket = s.value(KIT["resource"]["google_storage_bucket"]["bucket"])
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["encryption"] == {"default_kms_key_name": ATTRIBUTES["google_kms_crypto_key.bucket_key"]["id"]}
    assert [c["origin"] for c in bucket["cors"]] == [["https://acme.enclave.example.com"]]
    assert bucket["lifecycle"] == {"prevent_destroy": True}
    key = s.value(KIT["resource"]["google_kms_crypto_key"]["bucket_key"])
    assert key["rotation_period"] == "7776000s"
    agent = s.value(KIT["resource"]["google_kms_crypto_key_iam_member"]["storage_agent_uses_key"])
    assert agent["member"] == "serviceAccount:service-1@gs-project-accounts.iam.gserviceaccount.com"
    existing = scope(kms_key_name="projects/acme-data-123456/locations/europe-west1/keyRings/k/cryptoKeys/c")
    assert existing.count("resource", "google_kms_crypto_key", "bucket_key") == 0
    assert existing.value(KIT["resource"]["google_storage_bucket"]["bucket"])["encryption"] == {
        "default_kms_key_name": "projects/acme-data-123456/locations/europe-west1/keyRings/k/cryptoKeys/c"
    }


def test_data_access_logs_are_on_by_default() -> None:
    audit = scope().value(KIT["resource"]["google_project_iam_audit_config"]["storage_data_access_logs"])
    assert audit["service"] == "storage.googleapis.com"
    assert {c["log_type"] for c in audit["audit_log_config"]} >= {"DATA_READ", "DATA_WRITE"}
    assert (
        scope(data_access_logs=False).count("resource", "google_project_iam_audit_config", "storage_data_access_logs")
        == 0
    )


def test_an_existing_bucket_is_read_and_left_alone() -> None:
    s = scope(create_bucket=False)
    assert s.count("resource", "google_storage_bucket", "bucket") == 0
    assert s.count("data", "google_storage_bucket", "existing_bucket") == 1


def test_bad_values_are_refused_by_the_kit() -> None:
    assert any(
        "platform_service_account" in e for e in scope(platform_service_account="someone@gmail.com").validation_errors()
    )
    assert any("location" in e for e in scope(location="eu").validation_errors())
    assert any("prefix" in e for e in scope(prefix="a/../b/").validation_errors())
    assert scope().validation_errors() == []


def test_the_outputs_are_what_storage_connect_accepts() -> None:
    s = scope()
    outputs = {name: s.template(o["value"]) for name, o in KIT["output"].items()}
    spec = parse_spec({"backend": "gcs", "bucket": outputs["bucket"], "prefix": outputs["prefix"]})
    assert spec.bucket == "acme-enclave-data" and spec.prefix == "tenants/acme-eu/"
    assert outputs["enclave_storage_connect"].startswith("enclave storage connect --tenant acme-eu --backend gcs ")
