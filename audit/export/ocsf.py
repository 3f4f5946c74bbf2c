"""OCSF export: each record as an OCSF 1.x event (JSON Lines) for a SIEM.

Actions map to Authentication (3002), Account Change (3001) or API Activity (6003) by their catalogue
class, with an activity per action. What OCSF has no place for (details, trace id, the record's place in
the chain) goes under `unmapped`, so an event can be traced back to the verifiable JSONL export.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, BinaryIO

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.actions import OcsfClass, action_info
from audit.canonical import JsonValue
from audit.events import StoredRecord, parse_time
from audit.export.jsonl import ExportHeader
from audit.export.trailer import Trailer

OCSF_VERSION = "1.3.0"


@dataclass(frozen=True)
class OcsfEventClass:
    uid: int
    name: str
    category_uid: int
    category_name: str


OCSF_CLASSES: dict[OcsfClass, OcsfEventClass] = {
    OcsfClass.AUTHENTICATION: OcsfEventClass(3002, "Authentication", 3, "Identity & Access Management"),
    OcsfClass.ACCOUNT_CHANGE: OcsfEventClass(3001, "Account Change", 3, "Identity & Access Management"),
    OcsfClass.API_ACTIVITY: OcsfEventClass(6003, "API Activity", 6, "Application Activity"),
}

# activity_id and activity_name per action; ids are those of the action's OCSF class.
ACTIVITIES: dict[str, tuple[int, str]] = {
    "auth.login.succeeded": (1, "Logon"),
    "auth.login.failed": (1, "Logon"),
    "auth.logout": (2, "Logoff"),
    "auth.session.revoked": (2, "Logoff"),
    "auth.apikey.used.denied": (1, "Logon"),
    "auth.operator.denied": (1, "Logon"),
    "auth.failures.throttled": (1, "Logon"),
    "audit.refusals.summarised": (1, "Logon"),
    "auth.user.created": (1, "Create"),
    "auth.user.disabled": (5, "Disable"),
    "auth.user.role.changed": (7, "Attach Policy"),
    "auth.user.identity.linked": (99, "Other"),
    "auth.user.identity.unlinked": (99, "Other"),
    "auth.apikey.created": (99, "Other"),
    "auth.apikey.revoked": (99, "Other"),
    "auth.user.offboarded": (5, "Disable"),
    "auth.user.enabled": (2, "Enable"),
    "scim.token.created": (99, "Other"),
    "scim.token.rotated": (99, "Other"),
    "scim.token.revoked": (99, "Other"),
    "scim.token.used.denied": (1, "Logon"),
    "scim.user.created": (1, "Create"),
    "scim.user.updated": (99, "Other"),
    "scim.user.deleted": (6, "Delete"),
    "scim.group.created": (1, "Create"),
    "scim.group.updated": (3, "Update"),
    "scim.group.deleted": (4, "Delete"),
    "scim.group.member.added": (7, "Attach Policy"),
    "scim.group.member.removed": (8, "Detach Policy"),
    "sso.provider.added": (1, "Create"),
    "sso.provider.updated": (3, "Update"),
    "sso.provider.removed": (4, "Delete"),
    "sso.provider.tested": (99, "Other"),
    "sso.policy.updated": (3, "Update"),
    "sso.keycloak.provisioned": (3, "Update"),
    "secrets.resealed": (3, "Update"),
    "tenant.created": (1, "Create"),
    "tenant.updated": (3, "Update"),
    "storage.urls.issued": (1, "Create"),
    "storage.urls.denied": (1, "Create"),
    "storage.grant.registered": (1, "Create"),
    "storage.grant.revoked": (4, "Delete"),
    "storage.object.deleted": (4, "Delete"),
    "storage.grant.revocation.detected": (3, "Update"),
    "storage.grant.restored": (3, "Update"),
    "storage.grant.denied": (99, "Other"),
    "storage.externalid.generated": (1, "Create"),
    "audit.exported": (2, "Read"),
    "audit.queried": (2, "Read"),
    "audit.pruned": (4, "Delete"),
    "audit.sealed": (3, "Update"),
    "audit.key.rotated": (3, "Update"),
    "audit.sync.enabled": (1, "Create"),
    "audit.sync.disabled": (4, "Delete"),
    "audit.sync.failed": (99, "Other"),
    "audit.sync.recovered": (99, "Other"),
    "audit.demo": (99, "Other"),
}
OTHER_ACTIVITY = (99, "Other")

_STATUS = {"success": (1, "Success"), "denied": (2, "Failure"), "error": (2, "Failure")}
_SEVERITY = {"success": (1, "Informational"), "denied": (3, "Medium"), "error": (2, "Low")}
_USER_TYPES = {"user": (1, "User"), "api-key": (99, "API Key"), "operator": (2, "Admin"), "system": (3, "System")}


def _product_version() -> str:
    try:
        return metadata.version("enclave")
    except metadata.PackageNotFoundError:  # running from a source checkout that is not installed
        return "unknown"


def _user(actor: dict[str, Any]) -> dict[str, JsonValue]:
    type_id, type_name = _USER_TYPES.get(actor["kind"], (99, "Other"))
    user: dict[str, JsonValue] = {"uid": actor["id"], "type_id": type_id, "type": type_name}
    if actor.get("email"):
        user["email_addr"] = actor["email"]
    return user


def ocsf_event(body: dict[str, Any], record_hash: str, product_version: str) -> dict[str, JsonValue]:
    """The OCSF event for one record body."""
    info = action_info(body["action"])
    event_class = OCSF_CLASSES[info.ocsf]
    activity_id, activity_name = ACTIVITIES.get(info.name, OTHER_ACTIVITY)
    status_id, status = _STATUS[body["outcome"]]
    severity_id, severity = _SEVERITY[body["outcome"]]
    actor: dict[str, Any] = body["actor"]
    user = _user(actor)
    event: dict[str, JsonValue] = {
        "class_uid": event_class.uid,
        "class_name": event_class.name,
        "category_uid": event_class.category_uid,
        "category_name": event_class.category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": event_class.uid * 100 + activity_id,
        "type_name": f"{event_class.name}: {activity_name}",
        "time": int(parse_time(body["time"]).timestamp() * 1000),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "message": info.description,
        "actor": {"user": user},
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Enclave", "vendor_name": "Enclave", "version": product_version},
            "uid": body["id"],
            "correlation_uid": body.get("request_id"),
            "tenant_uid": body["tenant"],
            "log_name": "audit",
        },
        "unmapped": {
            "action": body["action"],
            "outcome": body["outcome"],
            "target": body.get("target"),
            "trace_id": body.get("trace_id"),
            "details": body.get("details") or {},
            "chain": {"seq": body["seq"], "prev": body["prev"], "hash": record_hash},
        },
    }
    if body.get("reason"):
        event["status_detail"] = body["reason"]
    if actor.get("ip"):
        event["src_endpoint"] = {"ip": actor["ip"]}
    if actor.get("user_agent"):
        event["http_request"] = {"user_agent": actor["user_agent"]}
    _add_class_fields(event, info.ocsf, body, user)
    return event


def _add_class_fields(
    event: dict[str, JsonValue], ocsf: OcsfClass, body: dict[str, Any], user: dict[str, JsonValue]
) -> None:
    """The object each class requires: the authenticating user, the changed account, or the API call."""
    target = body.get("target")
    if ocsf is OcsfClass.AUTHENTICATION:
        event["user"] = user
    elif ocsf is OcsfClass.ACCOUNT_CHANGE:
        event["user"] = {"uid": target} if target else user
    else:
        event["api"] = {"operation": body["action"], "service": {"name": "Enclave"}}
        if target:
            event["resources"] = [{"uid": target}]


def write_ocsf(
    out: BinaryIO,
    records: Iterable[StoredRecord],
    *,
    header: ExportHeader | None = None,
    private_key: Ed25519PrivateKey | None = None,
) -> int:
    """One OCSF event per line; returns the number of records. With `header` and `private_key`, the file ends
    with a signed trailer line (audit.export.trailer)."""
    trailer = Trailer("ocsf", out, header, private_key) if header is not None and private_key is not None else None
    target = trailer.writer if trailer is not None else out
    version = _product_version()
    count = 0
    for record in records:
        event = ocsf_event(orjson.loads(record.body), record.hash, version)
        target.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
        if trailer is not None:
            trailer.add(record.seq)
    if trailer is not None:
        trailer.finish()
    return count
