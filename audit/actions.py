"""The one catalogue of audit actions. Every act Enclave records uses a name from here.

docs/audit.md lists the same actions; tests/audit/test_actions_doc.py keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OcsfClass(StrEnum):
    """OCSF event classes an action maps to on export."""

    AUTHENTICATION = "authentication"  # class_uid 3002
    ACCOUNT_CHANGE = "account_change"  # class_uid 3001
    API_ACTIVITY = "api_activity"  # class_uid 6003


@dataclass(frozen=True)
class ActionInfo:
    name: str
    description: str
    ocsf: OcsfClass


def _catalogue(*entries: tuple[str, OcsfClass, str]) -> dict[str, ActionInfo]:
    return {name: ActionInfo(name, description, ocsf) for name, ocsf, description in entries}


_AUTH = OcsfClass.AUTHENTICATION
_ACCT = OcsfClass.ACCOUNT_CHANGE
_API = OcsfClass.API_ACTIVITY

ACTIONS: dict[str, ActionInfo] = _catalogue(
    # sign-in and sessions
    ("auth.login.succeeded", _AUTH, "A user signed in through the tenant's identity provider."),
    ("auth.login.failed", _AUTH, "A sign-in attempt was refused (bad state, nonce, token or unknown user)."),
    ("auth.logout", _AUTH, "A user signed out; the session was ended."),
    (
        "auth.session.revoked",
        _AUTH,
        "A session was ended by an administrator, by offboarding or by the identity provider (logout, re-validation).",
    ),
    ("auth.apikey.used.denied", _AUTH, "A request with an unknown, expired or revoked API key was refused."),
    (
        "auth.operator.denied",
        _AUTH,
        "A request with a wrong platform-operator token (or an unknown bearer) was refused.",
    ),
    (
        "auth.failures.throttled",
        _AUTH,
        "Failed sign-ins for one key or token passed the rate limit; further ones in the window get 429, unrecorded.",
    ),
    (
        "audit.refusals.summarised",
        _AUTH,
        "Refusals past a tenant's per-window limit were counted instead of recorded: how many, which, from where.",
    ),
    # accounts, roles, keys
    ("auth.user.created", _ACCT, "A user was created (first sign-in or by an administrator)."),
    ("auth.user.disabled", _ACCT, "A user was disabled (offboarding)."),
    ("auth.user.role.changed", _ACCT, "A user's role was changed."),
    ("auth.user.identity.linked", _ACCT, "A provider account (provider, subject) was linked to a user."),
    ("auth.user.identity.unlinked", _ACCT, "A provider account was unlinked from a user; its sessions ended."),
    ("auth.apikey.created", _ACCT, "An API key was created; its secret was shown once."),
    ("auth.apikey.revoked", _ACCT, "An API key was revoked."),
    ("auth.user.offboarded", _ACCT, "A user was offboarded: disabled, sessions and API keys ended, IdP told."),
    (
        "auth.user.enabled",
        _ACCT,
        "A disabled user was enabled again (the directory that had deactivated them activated them).",
    ),
    # provisioning by the tenant's directory (SCIM)
    ("scim.token.created", _ACCT, "A SCIM token was created for the tenant's directory; its secret was shown once."),
    ("scim.token.rotated", _ACCT, "A SCIM token was replaced by a new one; the old one ends after the overlap."),
    ("scim.token.revoked", _ACCT, "A SCIM token was revoked."),
    (
        "scim.token.used.denied",
        _AUTH,
        "A request with an unknown, expired or revoked SCIM token, or a SCIM token outside /scim/v2, was refused.",
    ),
    ("scim.user.created", _ACCT, "The directory provisioned a user (an Enclave user once it has an email)."),
    ("scim.user.updated", _ACCT, "The directory changed a user's attributes (name, emails, active)."),
    ("scim.user.deleted", _ACCT, "The directory deleted a user: offboarded, out of its groups."),
    ("scim.group.created", _API, "The directory created a group."),
    ("scim.group.updated", _API, "The directory renamed a group or changed its members."),
    ("scim.group.deleted", _API, "The directory deleted a group; its members left it."),
    ("scim.group.member.added", _ACCT, "The directory added a user to a group (the role it maps to follows)."),
    ("scim.group.member.removed", _ACCT, "The directory removed a user from a group (the role it gave goes at once)."),
    # single sign-on configuration
    ("sso.provider.added", _API, "An identity provider was added to the tenant's sign-in options."),
    ("sso.provider.updated", _API, "An identity provider's configuration was changed in place."),
    ("sso.provider.removed", _API, "An identity provider was removed from the tenant's sign-in options."),
    (
        "sso.provider.tested",
        _API,
        "Customer IT ran a test sign-in with an identity provider (no session, no user); how it ended.",
    ),
    ("sso.policy.updated", _API, "The tenant's sign-in policy (domains, JIT, role mapping, timeouts) changed."),
    ("sso.keycloak.provisioned", _API, "The tenant's Keycloak realm, client and brokered providers were set up."),
    (
        "secrets.resealed",
        _API,
        "Stored client secrets and refresh tokens were sealed again under the current secrets key (a rotation).",
    ),
    # tenants
    ("tenant.created", _API, "A tenant was added to this gateway."),
    ("tenant.updated", _API, "A tenant's settings were changed."),
    # storage
    ("storage.urls.issued", _API, "A batch of signed URLs was issued for keys under the tenant's prefix."),
    ("storage.urls.denied", _API, "A request for signed URLs was refused (role, prefix, revoked grant)."),
    ("storage.grant.registered", _API, "The customer's bucket access grant was registered."),
    ("storage.grant.revoked", _API, "Access to the customer's bucket was revoked in Enclave."),
    ("storage.grant.revocation.detected", _API, "A probe found the customer revoked access in their cloud."),
    ("storage.grant.restored", _API, "A revoked grant was restored by the customer's IT."),
    ("storage.grant.denied", _API, "A grant change or status request was refused (role, another tenant's grant)."),
    ("storage.externalid.generated", _API, "Enclave generated the ExternalId a tenant's S3 grant trust requires."),
    ("storage.object.deleted", _API, "A user deleted an object under the tenant's prefix (its key's SHA-256 only)."),
    # the audit log itself
    ("audit.exported", _API, "The tenant's audit log was exported."),
    ("audit.queried", _API, "The tenant's audit events were read through the API."),
    ("audit.pruned", _API, "Old audit records were removed under the retention policy; a signed anchor stays."),
    (
        "audit.sealed",
        _API,
        "A log written before signed tree heads was signed for the first time (trust on first use).",
    ),
    (
        "audit.key.rotated",
        _API,
        "A new audit signing key was published in the key history, vouched for by the old one.",
    ),
    ("audit.sync.enabled", _API, "Continuous sync of the audit log into the customer's bucket was turned on."),
    ("audit.sync.disabled", _API, "Continuous sync of the audit log into the customer's bucket was turned off."),
    ("audit.sync.failed", _API, "A sync of the audit log into the customer's bucket failed; it is retried."),
    ("audit.sync.recovered", _API, "The audit log was synced to the customer's bucket again after failures."),
    ("audit.demo", _API, "An event recorded by the demo to show the log end to end."),
)


class UnknownActionError(ValueError):
    """An action name that is not in the catalogue."""


def action_info(name: str) -> ActionInfo:
    try:
        return ACTIONS[name]
    except KeyError:
        raise UnknownActionError(f"unknown audit action {name!r}; add it to audit/actions.py") from None
