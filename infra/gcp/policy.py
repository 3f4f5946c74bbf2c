"""What each mandatory rule means for the GCP resource types a tenant stack uses (infra/policy/model.py).
Checks read the camelCase inputs a pulumi-policy validator and the mock graph both see, and say what is
wrong and how to fix it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from infra.policy import cidrs
from infra.policy.graph import Reference, reference_check, tenant_key_check
from infra.policy.model import (
    UNKNOWN,
    CloudRules,
    Graph,
    PolicyContext,
    ResourceCheck,
    ResourceView,
    Rule,
    Violation,
    input_at,
    violation,
)
from infra.spec import TENANT_TAG

SQL = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
BUCKET_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
KEY_RING = "gcp:kms/keyRing:KeyRing"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
FIREWALL = "gcp:compute/firewall:Firewall"
ADDRESS = "gcp:compute/address:Address"
GLOBAL_ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
FORWARDING_RULE = "gcp:compute/forwardingRule:ForwardingRule"
SERVICE_ATTACHMENT = "gcp:compute/serviceAttachment:ServiceAttachment"
NETWORK = "gcp:compute/network:Network"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
SERVICE_ACCOUNT = "gcp:serviceaccount/account:Account"
SINK = "gcp:logging/projectSink:ProjectSink"
AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROJECT_BINDING = "gcp:projects/iAMBinding:IAMBinding"
PROJECT_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
ACCOUNT_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
ACCOUNT_BINDING = "gcp:serviceaccount/iAMBinding:IAMBinding"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
KEY_BINDING = "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding"
GRANTS = (
    PROJECT_MEMBER,
    PROJECT_BINDING,
    ACCOUNT_MEMBER,
    ACCOUNT_BINDING,
    KEY_MEMBER,
    KEY_BINDING,
    BUCKET_MEMBER,
    BUCKET_BINDING,
)
# Grants above a project reach every project under the folder / organization: never from a tenant stack.
WIDER_THAN_PROJECT = tuple(
    f"gcp:{module}/{kind}:{kind[0].upper()}{kind[1:]}"
    for module in ("organizations", "folder")
    for kind in ("iAMMember", "iAMBinding", "iAMPolicy")
)
# Basic (primitive) roles grant thousands of permissions across all services
# (https://cloud.google.com/iam/docs/roles-overview#basic: "Basic roles are highly permissive").
BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
# Google's health checkers and proxies (https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges):
# a firewall must admit them for a load balancer's backends to be healthy; they are not the internet.
HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22", "2600:2d00:1:b029::/64", "2600:2d00:1:1::/64")
# A user-managed service account's email: <name>@<project id>.iam.gserviceaccount.com, or a Kubernetes
# service account of a project's workload-identity pool: <project id>.svc.id.goog[<namespace>/<name>].
# Google-managed service agents are `service-<project number>@...` and belong to the project by number.
_ACCOUNT_PROJECT = re.compile(
    r"^serviceAccount:(?:(?!service-\d+@)[^@]+@([a-z][a-z0-9-]+)\.iam\.gserviceaccount\.com"
    r"|([a-z][a-z0-9-]+)\.svc\.id\.goog\[)"
)

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
TLS_SSL_MODES = frozenset({"ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"})
MIN_BACKUPS = 7


# --- no public data services ---------------------------------------------------------------------------


def _sql_private(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    ip = input_at(r.inputs, "settings.ipConfiguration") or {}
    if ip.get("ipv4Enabled") is not False:
        yield "Cloud SQL has a public IP: set settings.ipConfiguration.ipv4Enabled = false"
    if not ip.get("privateNetwork"):
        yield "Cloud SQL has no private network: set settings.ipConfiguration.privateNetwork to the tenant VPC"
    if ip.get("authorizedNetworks"):
        yield "Cloud SQL lists authorizedNetworks: remove them; clients connect over the private network"


def _redis_private(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("connectMode") != "PRIVATE_SERVICE_ACCESS":
        yield "Memorystore must use connectMode PRIVATE_SERVICE_ACCESS on the tenant VPC"
    if r.inputs.get("authEnabled") is not True:
        yield "Memorystore accepts unauthenticated clients: set authEnabled = true"


def _bucket_private(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("publicAccessPrevention") != "enforced":
        yield "the bucket can be made public: set publicAccessPrevention = 'enforced'"
    if r.inputs.get("uniformBucketLevelAccess") is not True:
        yield "the bucket allows object ACLs: set uniformBucketLevelAccess = true"


def _bucket_grant_private(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    members = [r.inputs.get("member"), *(r.inputs.get("members") or [])]
    if public := sorted(m for m in members if m in PUBLIC_MEMBERS):
        yield f"the bucket is granted to {', '.join(public)}: grant named principals only"


# --- encryption at rest with the tenant key --------------------------------------------------------------


def _needs(path: tuple[str, ...], what: str) -> ResourceCheck:
    def check(r: ResourceView, _: PolicyContext) -> Iterator[str]:
        if not input_at(r.inputs, ".".join(path)):
            yield f"{what} is not encrypted with the tenant key: set {'.'.join(path)} to the tenant's KMS key"

    return check


def _cluster_secrets_encrypted(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    encryption = r.inputs.get("databaseEncryption") or {}
    if encryption.get("state") != "ENCRYPTED" or not encryption.get("keyName"):
        yield "GKE secrets are not encrypted with the tenant key: set databaseEncryption state ENCRYPTED and keyName"


# --- TLS in transit --------------------------------------------------------------------------------------


def _sql_tls(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if input_at(r.inputs, "settings.ipConfiguration.sslMode") not in TLS_SSL_MODES:
        yield "Cloud SQL accepts plaintext connections: set settings.ipConfiguration.sslMode = 'ENCRYPTED_ONLY'"


def _redis_tls(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("transitEncryptionMode") != "SERVER_AUTHENTICATION":
        yield "Memorystore accepts plaintext: set transitEncryptionMode = 'SERVER_AUTHENTICATION'"


# --- deletion protection ---------------------------------------------------------------------------------


def _protected(r: ResourceView, ctx: PolicyContext, flags: tuple[tuple[str, ...], ...] = ()) -> Iterator[str]:
    if not ctx.deletion_protection:
        return
    if not r.protect:
        yield "the resource is not protected: create it with protect=True (ctx.opts(stateful=True))"
    for path in flags:
        if input_at(r.inputs, ".".join(path)) is not True:
            yield f"deletion protection is off: set {'.'.join(path)} = true"


def _sql_durable(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    backups = input_at(r.inputs, "settings.backupConfiguration") or {}
    if backups.get("enabled") is not True or backups.get("binaryLogEnabled") is not True:
        yield "Cloud SQL lacks point-in-time recovery: enable backupConfiguration.enabled and binaryLogEnabled"
    retained = input_at(backups, "backupRetentionSettings.retainedBackups")
    if not isinstance(retained, int | float) or retained < MIN_BACKUPS:
        kept = "the default number of" if retained is None else str(retained)
        yield f"Cloud SQL keeps {kept} backups: set retainedBackups >= {MIN_BACKUPS}"
    if ctx.deletion_protection and input_at(r.inputs, "settings.finalBackupConfig.enabled") is not True:
        yield "Cloud SQL takes no final backup on deletion: set settings.finalBackupConfig.enabled = true"
    yield from _protected(r, ctx, (("deletionProtection",), ("settings", "deletionProtectionEnabled")))


def _redis_protected(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    yield from _protected(r, ctx, (("deletionProtection",),))


def _cluster_protected(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if ctx.deletion_protection and r.inputs.get("deletionProtection") is False:
        yield "the GKE cluster can be deleted: set deletionProtection = true"


def _bucket_protected(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if r.inputs.get("forceDestroy") is True and ctx.deletion_protection:
        yield "the bucket would be emptied on delete: set forceDestroy = false"
    yield from _protected(r, ctx)


def _key_protected(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    if ctx.deletion_protection and r.inputs.get("deletionPolicy") != "PREVENT":
        yield "the tenant key can be destroyed: set deletionPolicy = 'PREVENT'"
    if not r.inputs.get("rotationPeriod"):
        yield "the tenant key never rotates: set rotationPeriod (e.g. '7776000s')"
    yield from _protected(r, ctx)


def _key_ring_protected(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    yield from _protected(r, ctx)


# --- private cluster endpoint ----------------------------------------------------------------------------


def _cluster_private(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    private = r.inputs.get("privateClusterConfig") or {}
    if private.get("enablePrivateNodes") is not True:
        yield "GKE nodes have public IPs: set privateClusterConfig.enablePrivateNodes = true"
    networks = r.inputs.get("masterAuthorizedNetworksConfig") or {}
    if networks.get("gcpPublicCidrsAccessEnabled") is True:
        yield "the GKE control plane admits all Google Cloud IPs: set gcpPublicCidrsAccessEnabled = false"
    blocks = [block.get("cidrBlock") for block in networks.get("cidrBlocks") or []]
    if blocks and (beyond := cidrs.outside(blocks, ctx.cluster_api_cidrs)):
        yield f"the GKE control plane admits {beyond}: keep masterAuthorizedNetworks inside the tenant's networks"
    if private.get("enablePrivateEndpoint") is not True and not blocks:
        yield "the GKE control plane is public: set enablePrivateEndpoint = true or list masterAuthorizedNetworks"


# --- tenant labels on nested label fields ----------------------------------------------------------------


def _nested_label(path: tuple[str, ...]) -> ResourceCheck:
    def check(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
        labels = input_at(r.inputs, ".".join(path)) or {}
        if labels.get(TENANT_TAG) != ctx.tenant:
            yield f"missing label {TENANT_TAG}={ctx.tenant}: add it to {'.'.join(path)}"

    return check


# --- no open ingress -------------------------------------------------------------------------------------


def _firewall_ingress(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """Sources count as their union: `0.0.0.0/1` + `128.0.0.0/1` is the internet. A rule with no source
    ranges, tags or service accounts admits every address (https://cloud.google.com/firewall/docs/firewalls#sources_for_rules)."""
    if r.inputs.get("direction", "INGRESS") != "INGRESS" or not r.inputs.get("allows"):
        return
    ranges = list(r.inputs.get("sourceRanges") or [])
    if not ranges and (r.inputs.get("sourceTags") or r.inputs.get("sourceServiceAccounts")):
        return
    beyond = cidrs.outside(ranges, (*ctx.trusted_cidrs, *HEALTH_CHECK_RANGES)) if ranges else "every address"
    if not beyond:
        return
    listener_only = all(
        allow.get("protocol") == "tcp" and list(allow.get("ports") or []) == ["443"] for allow in r.inputs["allows"]
    )
    if listener_only and not ctx.allowed_cidrs:
        return  # the gateway's TLS listener, open by design when the tenant has no allow list
    yield f"the firewall admits {beyond}: restrict sourceRanges to the tenant's allow list or its own networks"


def _address_internal(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("addressType", "EXTERNAL") != "INTERNAL":
        yield "an external address: only the gateway's load balancer (created by GKE) may be public"


# --- nothing shared with another tenant ------------------------------------------------------------------


def _attachment_explicit(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """ACCEPT_AUTOMATIC accepts every project's connection
    (https://cloud.google.com/vpc/docs/about-vpc-hosted-services#connection-preference); the accept list
    must name only the spec's consumers."""
    if r.inputs.get("connectionPreference") != "ACCEPT_MANUAL":
        yield "the service attachment accepts any project: set connectionPreference = 'ACCEPT_MANUAL'"
    accepted = [
        str(entry.get("projectIdOrNum") or entry.get("networkUrl"))
        for entry in r.inputs.get("consumerAcceptLists") or []
        if isinstance(entry, dict)
    ]
    if not accepted:
        yield "the service attachment has no consumer allow list: list the tenant's consumer projects"
    elif "*" in accepted:
        yield "the service attachment accepts '*': list the spec's consumer projects"
    elif beyond := sorted(set(accepted) - set(ctx.private_link_consumers)):
        yield f"the service attachment accepts {beyond}, not among the spec's private_link_consumers"


# --- least privilege ---------------------------------------------------------------------------------------


def _roles(r: ResourceView) -> list[str]:
    if r.type == PROJECT_POLICY or r.type.endswith(":IAMPolicy"):
        data = r.inputs.get("policyData")
        try:
            bindings = json.loads(data).get("bindings", []) if isinstance(data, str) and data != UNKNOWN else []
        except (ValueError, AttributeError):
            return ["<unreadable policyData>"]
        return [str(b.get("role")) for b in bindings if isinstance(b, dict)]
    return [str(r.inputs.get("role"))]


def _no_basic_roles(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if basic := sorted(set(_roles(r)) & BASIC_ROLES):
        yield f"grants the basic role(s) {basic}, which are highly permissive: grant a predefined role instead"
    if "<unreadable policyData>" in _roles(r):
        yield "policyData is not a readable IAM policy"


def _not_above_project(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    yield "a grant on a folder or organization reaches every project under it: grant on the tenant's project"


# Nodes run as a service account; left unset (or set to "default") it is the project's Compute Engine default
# service account, which has the Editor role unless an organization policy removed it: "Use least privilege
# IAM service accounts" (https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa).
# A cluster that removes its default node pool still creates it first with the cluster's own `nodeConfig`, so
# the cluster's node config is judged too.
_DEFAULT_COMPUTE_ACCOUNT = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$")


def _node_account(config: Any, what: str) -> Iterator[str]:
    account = input_at(config, "serviceAccount") if isinstance(config, dict) else None
    if not account or account == "default" or _DEFAULT_COMPUTE_ACCOUNT.match(str(account)):
        yield (
            f"{what} run as the Compute Engine default service account (Editor on the project): "
            "set nodeConfig.serviceAccount to the stack's node service account"
        )


def _pool_least_privilege(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    yield from _node_account(r.inputs.get("nodeConfig"), "the node pool's nodes")


def _cluster_default_pool(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    if r.inputs.get("enableAutopilot") is True:
        return
    yield from _node_account(r.inputs.get("nodeConfig"), "the cluster's default node pool's nodes")


def _members(r: ResourceView) -> list[str]:
    return [str(m) for m in [r.inputs.get("member"), *(r.inputs.get("members") or [])] if m]


def _grant_in_tenant_project(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
    """A grant is on the tenant's project and to principals of the tenant's project (or Google's agents)."""
    project = r.inputs.get("project")
    if r.type in (PROJECT_MEMBER, PROJECT_BINDING, PROJECT_POLICY) and ctx.gcp_project and project != ctx.gcp_project:
        yield f"grants on project {project!r}, not the tenant's project {ctx.gcp_project!r}"
    for member in _members(r):
        m = _ACCOUNT_PROJECT.match(member)
        owner = m and (m.group(1) or m.group(2))
        if owner and ctx.gcp_project and owner != ctx.gcp_project:
            yield f"grants to {member}, a principal of project {owner!r}, not the tenant's {ctx.gcp_project!r}"


def _audit_config_complete(r: ResourceView, _: PolicyContext) -> Iterator[str]:
    """Data Access audit logs are off by default (https://cloud.google.com/logging/docs/audit#data-access)."""
    kinds = {c.get("logType") for c in r.inputs.get("auditLogConfigs") or [] if isinstance(c, dict)}
    if r.inputs.get("service") != "allServices" or not {"ADMIN_READ", "DATA_READ", "DATA_WRITE"} <= kinds:
        yield "the audit config must cover allServices with ADMIN_READ, DATA_READ and DATA_WRITE"


# --- graph checks ------------------------------------------------------------------------------------------

TENANT_KEY_REFERENCES = tuple(
    Reference(source, path, (CRYPTO_KEY,), "the tenant key")
    for source, path in (
        (SQL, "encryptionKeyName"),
        (REDIS, "customerManagedKey"),
        (BUCKET, "encryption.defaultKmsKeyName"),
        (CLUSTER, "databaseEncryption.keyName"),
    )
)


def _sink_bucket(view: ResourceView) -> list[Any]:
    destination = view.inputs.get("destination")
    prefix = "storage.googleapis.com/"
    if isinstance(destination, str) and destination.startswith(prefix):
        return [destination.removeprefix(prefix)]
    return [destination]


OWN_REFERENCES = (
    Reference(BUCKET_MEMBER, "bucket", (BUCKET,), "a tenant bucket"),
    Reference(BUCKET_BINDING, "bucket", (BUCKET,), "a tenant bucket"),
    Reference(KEY_MEMBER, "cryptoKeyId", (CRYPTO_KEY,), "the tenant key"),
    Reference(KEY_BINDING, "cryptoKeyId", (CRYPTO_KEY,), "the tenant key"),
    Reference(ACCOUNT_MEMBER, "serviceAccountId", (SERVICE_ACCOUNT,), "a tenant service account"),
    Reference(ACCOUNT_BINDING, "serviceAccountId", (SERVICE_ACCOUNT,), "a tenant service account"),
    Reference(NODE_POOL, "cluster", (CLUSTER,), "the tenant's cluster"),
    Reference(SINK, "destination", (BUCKET,), "a tenant bucket", _sink_bucket),
)


def _audit_trail_exists(graph: Graph, ctx: PolicyContext) -> Iterator[Violation]:
    """Data Access logs are enabled (an IAMAuditConfig) and a sink exports audit logs into a bucket whose
    retention policy is locked (https://cloud.google.com/storage/docs/bucket-lock) while the spec asks for
    deletion protection (a lock cannot be undone): omissions are caught."""
    anchor = next(iter(graph.of_type(CRYPTO_KEY, CLUSTER, BUCKET)), None)
    if anchor is None:
        return
    if not any(not list(_audit_config_complete(v, ctx)) for v in graph.of_type(AUDIT_CONFIG)):
        yield violation(Rule.AUDIT_TRAIL, anchor, "no IAMAuditConfig enables Data Access logs for allServices")
    locked = {
        name
        for b in graph.of_type(BUCKET)
        if input_at(b.inputs, "retentionPolicy.retentionPeriod")
        and (input_at(b.inputs, "retentionPolicy.isLocked") is True or not ctx.deletion_protection)
        for name in graph.identifiers_of(b)
    }
    if not any(_sink_bucket(s)[0] in locked for s in graph.of_type(SINK)):
        yield violation(
            Rule.AUDIT_TRAIL, anchor, "no log sink exports audit logs into a bucket with a (locked) retention policy"
        )


def _tenant_named(field: str) -> ResourceCheck:
    def check(r: ResourceView, ctx: PolicyContext) -> Iterator[str]:
        name = r.inputs.get(field)
        if not isinstance(name, str) or not name.startswith(f"{ctx.tenant}-"):
            yield f"{field} {name!r} does not belong to tenant {ctx.tenant}: name it '{ctx.tenant}-<part>'"

    return check


def _checks(*pairs: tuple[str, ResourceCheck]) -> dict[str, ResourceCheck]:
    return dict(pairs)


_NAMED: tuple[tuple[str, str], ...] = (
    (NETWORK, "name"),
    (SUBNETWORK, "name"),
    (CLUSTER, "name"),
    (SQL, "name"),
    (REDIS, "name"),
    (BUCKET, "name"),
    (KEY_RING, "name"),
    (CRYPTO_KEY, "name"),
    (SERVICE_ACCOUNT, "accountId"),
    (SINK, "name"),
)


RULES = CloudRules(
    checks={
        Rule.NO_PUBLIC_DATA: _checks(
            (SQL, _sql_private),
            (REDIS, _redis_private),
            (BUCKET, _bucket_private),
            (BUCKET_MEMBER, _bucket_grant_private),
            (BUCKET_BINDING, _bucket_grant_private),
        ),
        Rule.ENCRYPTION_AT_REST: _checks(
            (SQL, _needs(("encryptionKeyName",), "Cloud SQL")),
            (REDIS, _needs(("customerManagedKey",), "Memorystore")),
            (BUCKET, _needs(("encryption", "defaultKmsKeyName"), "the bucket")),
            (CLUSTER, _cluster_secrets_encrypted),
        ),
        Rule.TLS_IN_TRANSIT: _checks((SQL, _sql_tls), (REDIS, _redis_tls)),
        Rule.DELETION_PROTECTION: _checks(
            (SQL, _sql_durable),
            (REDIS, _redis_protected),
            (CLUSTER, _cluster_protected),
            (BUCKET, _bucket_protected),
            (CRYPTO_KEY, _key_protected),
            (KEY_RING, _key_ring_protected),
        ),
        Rule.PRIVATE_CLUSTER_ENDPOINT: _checks((CLUSTER, _cluster_private)),
        Rule.TENANT_TAG: _checks(
            (SQL, _nested_label(("settings", "userLabels"))),
            (NODE_POOL, _nested_label(("nodeConfig", "resourceLabels"))),
        ),
        Rule.NO_OPEN_INGRESS: _checks((FIREWALL, _firewall_ingress), (ADDRESS, _address_internal)),
        Rule.NO_CROSS_TENANT_SHARING: _checks(
            (SERVICE_ATTACHMENT, _attachment_explicit),
            *((type_token, _tenant_named(field)) for type_token, field in _NAMED),
            *((grant, _grant_in_tenant_project) for grant in (*GRANTS, PROJECT_POLICY)),
        ),
        Rule.LEAST_PRIVILEGE: _checks(
            *((grant, _no_basic_roles) for grant in (*GRANTS, PROJECT_POLICY)),
            *((grant, _not_above_project) for grant in WIDER_THAN_PROJECT),
            (NODE_POOL, _pool_least_privilege),
            (CLUSTER, _cluster_default_pool),
        ),
        Rule.AUDIT_TRAIL: _checks((AUDIT_CONFIG, _audit_config_complete)),
    },
    taggable_types=frozenset({BUCKET, REDIS, CRYPTO_KEY, CLUSTER, GLOBAL_ADDRESS, ADDRESS, FORWARDING_RULE}),
    tag_field="labels",
    tag_fields_by_type={CLUSTER: "resourceLabels"},
    graph_checks=(
        tenant_key_check(TENANT_KEY_REFERENCES),
        reference_check(Rule.NO_CROSS_TENANT_SHARING, OWN_REFERENCES, lambda ctx: (ctx.external_bucket or "",)),
        _audit_trail_exists,
    ),
)
