"""What each mandatory rule means for the GCP resource types a tenant stack uses (infra/policy/model.py).
Checks read the camelCase inputs a pulumi-policy validator and the mock graph both see, and say what is
wrong and how to fix it."""

from __future__ import annotations

from infra.policy.model import CloudRules, PolicyContext, ResourceCheck, ResourceView, Rule, input_at
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

ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
TLS_SSL_MODES = frozenset({"ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"})
MIN_BACKUPS = 7


# --- no public data services ---------------------------------------------------------------------------


def _sql_private(r: ResourceView, _: PolicyContext) -> str | None:
    ip = input_at(r.inputs, "settings.ipConfiguration") or {}
    if ip.get("ipv4Enabled") is not False:
        return "Cloud SQL has a public IP: set settings.ipConfiguration.ipv4Enabled = false"
    if not ip.get("privateNetwork"):
        return "Cloud SQL has no private network: set settings.ipConfiguration.privateNetwork to the tenant VPC"
    if ip.get("authorizedNetworks"):
        return "Cloud SQL lists authorizedNetworks: remove them; clients connect over the private network"
    return None


def _redis_private(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("connectMode") != "PRIVATE_SERVICE_ACCESS":
        return "Memorystore must use connectMode PRIVATE_SERVICE_ACCESS on the tenant VPC"
    if r.inputs.get("authEnabled") is not True:
        return "Memorystore accepts unauthenticated clients: set authEnabled = true"
    return None


def _bucket_private(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("publicAccessPrevention") != "enforced":
        return "the bucket can be made public: set publicAccessPrevention = 'enforced'"
    if r.inputs.get("uniformBucketLevelAccess") is not True:
        return "the bucket allows object ACLs: set uniformBucketLevelAccess = true"
    return None


def _bucket_grant_private(r: ResourceView, _: PolicyContext) -> str | None:
    members = [r.inputs.get("member"), *(r.inputs.get("members") or [])]
    public = sorted(m for m in members if m in PUBLIC_MEMBERS)
    if public:
        return f"the bucket is granted to {', '.join(public)}: grant named principals only"
    return None


# --- encryption at rest with the tenant key --------------------------------------------------------------


def _needs(path: tuple[str, ...], what: str) -> ResourceCheck:
    def check(r: ResourceView, _: PolicyContext) -> str | None:
        if not input_at(r.inputs, ".".join(path)):
            return f"{what} is not encrypted with the tenant key: set {'.'.join(path)} to the tenant's KMS key"
        return None

    return check


def _cluster_secrets_encrypted(r: ResourceView, _: PolicyContext) -> str | None:
    encryption = r.inputs.get("databaseEncryption") or {}
    if encryption.get("state") != "ENCRYPTED" or not encryption.get("keyName"):
        return "GKE secrets are not encrypted with the tenant key: set databaseEncryption state ENCRYPTED and keyName"
    return None


# --- TLS in transit --------------------------------------------------------------------------------------


def _sql_tls(r: ResourceView, _: PolicyContext) -> str | None:
    if input_at(r.inputs, "settings.ipConfiguration.sslMode") not in TLS_SSL_MODES:
        return "Cloud SQL accepts plaintext connections: set settings.ipConfiguration.sslMode = 'ENCRYPTED_ONLY'"
    return None


def _redis_tls(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("transitEncryptionMode") != "SERVER_AUTHENTICATION":
        return "Memorystore accepts plaintext: set transitEncryptionMode = 'SERVER_AUTHENTICATION'"
    return None


# --- deletion protection ---------------------------------------------------------------------------------


def _protected(r: ResourceView, ctx: PolicyContext, flags: tuple[tuple[str, ...], ...] = ()) -> str | None:
    if not ctx.deletion_protection:
        return None
    if not r.protect:
        return "the resource is not protected: create it with protect=True (ctx.opts(stateful=True))"
    for path in flags:
        if input_at(r.inputs, ".".join(path)) is not True:
            return f"deletion protection is off: set {'.'.join(path)} = true"
    return None


def _sql_durable(r: ResourceView, ctx: PolicyContext) -> str | None:
    backups = input_at(r.inputs, "settings.backupConfiguration") or {}
    if backups.get("enabled") is not True or backups.get("binaryLogEnabled") is not True:
        return "Cloud SQL lacks point-in-time recovery: enable backupConfiguration.enabled and binaryLogEnabled"
    retained = input_at(backups, "backupRetentionSettings.retainedBackups")
    if retained is not None and retained < MIN_BACKUPS:
        return f"Cloud SQL keeps {retained} backups: keep at least {MIN_BACKUPS} (retainedBackups)"
    if ctx.deletion_protection and input_at(r.inputs, "settings.finalBackupConfig.enabled") is not True:
        return "Cloud SQL takes no final backup on deletion: set settings.finalBackupConfig.enabled = true"
    return _protected(r, ctx, (("deletionProtection",), ("settings", "deletionProtectionEnabled")))


def _redis_protected(r: ResourceView, ctx: PolicyContext) -> str | None:
    return _protected(r, ctx, (("deletionProtection",),))


def _cluster_protected(r: ResourceView, ctx: PolicyContext) -> str | None:
    if ctx.deletion_protection and r.inputs.get("deletionProtection") is False:
        return "the GKE cluster can be deleted: set deletionProtection = true"
    return None


def _bucket_protected(r: ResourceView, ctx: PolicyContext) -> str | None:
    if r.inputs.get("forceDestroy") is True and ctx.deletion_protection:
        return "the bucket would be emptied on delete: set forceDestroy = false"
    return _protected(r, ctx)


def _key_protected(r: ResourceView, ctx: PolicyContext) -> str | None:
    if ctx.deletion_protection and r.inputs.get("deletionPolicy") != "PREVENT":
        return "the tenant key can be destroyed: set deletionPolicy = 'PREVENT'"
    if not r.inputs.get("rotationPeriod"):
        return "the tenant key never rotates: set rotationPeriod (e.g. '7776000s')"
    return _protected(r, ctx)


def _key_ring_protected(r: ResourceView, ctx: PolicyContext) -> str | None:
    return _protected(r, ctx)


# --- private cluster endpoint ----------------------------------------------------------------------------


def _cluster_private(r: ResourceView, _: PolicyContext) -> str | None:
    private = r.inputs.get("privateClusterConfig") or {}
    if private.get("enablePrivateNodes") is not True:
        return "GKE nodes have public IPs: set privateClusterConfig.enablePrivateNodes = true"
    networks = r.inputs.get("masterAuthorizedNetworksConfig") or {}
    if networks.get("gcpPublicCidrsAccessEnabled") is True:
        return "the GKE control plane admits all Google Cloud IPs: set gcpPublicCidrsAccessEnabled = false"
    cidrs = {block.get("cidrBlock") for block in networks.get("cidrBlocks") or []}
    if cidrs & ANYWHERE:
        return "the GKE control plane is open to the internet: remove 0.0.0.0/0 from masterAuthorizedNetworks"
    if private.get("enablePrivateEndpoint") is not True and not cidrs:
        return "the GKE control plane is public: set enablePrivateEndpoint = true or list masterAuthorizedNetworks"
    return None


# --- tenant labels on nested label fields ----------------------------------------------------------------


def _nested_label(path: tuple[str, ...]) -> ResourceCheck:
    def check(r: ResourceView, ctx: PolicyContext) -> str | None:
        labels = input_at(r.inputs, ".".join(path)) or {}
        if labels.get(TENANT_TAG) != ctx.tenant:
            return f"missing label {TENANT_TAG}={ctx.tenant}: add it to {'.'.join(path)}"
        return None

    return check


# --- no open ingress -------------------------------------------------------------------------------------


def _firewall_ingress(r: ResourceView, ctx: PolicyContext) -> str | None:
    if r.inputs.get("direction", "INGRESS") != "INGRESS" or not r.inputs.get("allows"):
        return None
    if not set(r.inputs.get("sourceRanges") or []) & ANYWHERE:
        return None
    listener_only = all(
        allow.get("protocol") == "tcp" and list(allow.get("ports") or []) == ["443"] for allow in r.inputs["allows"]
    )
    if listener_only and not ctx.allowed_cidrs:
        return None  # the gateway's TLS listener, open by design when the tenant has no allow list
    return "the firewall admits 0.0.0.0/0: restrict sourceRanges to the tenant's allow list or private ranges"


def _address_internal(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("addressType", "EXTERNAL") != "INTERNAL":
        return "an external address: only the gateway's load balancer (created by GKE) may be public"
    return None


# --- nothing shared with another tenant ------------------------------------------------------------------


def _attachment_explicit(r: ResourceView, _: PolicyContext) -> str | None:
    if r.inputs.get("connectionPreference") != "ACCEPT_MANUAL":
        return "the service attachment accepts any project: set connectionPreference = 'ACCEPT_MANUAL'"
    if not r.inputs.get("consumerAcceptLists"):
        return "the service attachment has no consumer allow list: list the tenant's consumer projects"
    return None


def _tenant_named(field: str) -> ResourceCheck:
    def check(r: ResourceView, ctx: PolicyContext) -> str | None:
        name = r.inputs.get(field)
        if not isinstance(name, str) or not name.startswith(f"{ctx.tenant}-"):
            return f"{field} {name!r} does not belong to tenant {ctx.tenant}: name it '{ctx.tenant}-<part>'"
        return None

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
        ),
    },
    taggable_types=frozenset({BUCKET, REDIS, CRYPTO_KEY, CLUSTER, GLOBAL_ADDRESS, ADDRESS, FORWARDING_RULE}),
    tag_field="labels",
    tag_fields_by_type={CLUSTER: "resourceLabels"},
)
