"""What Enclave's SCIM service is, in the protocol's own terms (scim2-models): the User and Group resources it
serves, the capabilities it declares (ServiceProviderConfig), and how tolerant it is of what real directories send.

The User resource is the core schema's subset Enclave keeps: the name it shows, the emails it signs people in by,
whether they are active, and the groups that give them roles (read-only, from the groups' members). Nothing else
is stored: other attributes a directory sends (phone numbers, addresses, a password, the enterprise extension)
are ignored, as the policy below says, instead of refused — Entra's and Okta's default mappings send some of them
(docs/scim.md lists what is kept)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    ETag,
    Filter,
    Group,
    GroupMembership,
    Mutability,
    Name,
    Patch,
    Required,
    Resource,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MAX_RESULTS = 200  # the largest page a list or search returns (`count` above it is lowered to it)
MEDIA_TYPE = "application/scim+json"


class Email(ComplexAttribute):
    """An email address of the user, kept as the directory sent it (Entra: "values sent should be stored in the
    same format they were sent"); whether it can be the Enclave email is decided apart (auth.users rules)."""

    value: str | None = None
    """The email address."""

    display: str | None = None
    """A human-readable name, primarily used for display purposes."""

    type: str | None = None
    """A label indicating the address's function: work, home or other."""

    primary: bool | None = None
    """Whether this is the user's preferred address."""


class User(Resource[Any]):
    """A person of the tenant's directory; with an email address, an Enclave user."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    """Unique identifier for the User in the directory (Okta: the login; Entra: the userPrincipalName)."""

    name: Name | None = None
    """The components of the user's real name."""

    Name: ClassVar[type[ComplexAttribute]] = Name

    display_name: str | None = None
    """The name of the User, suitable for display to end-users."""

    active: bool | None = None
    """Whether the user may sign in: false offboards them (sessions and API keys end)."""

    emails: list[Email] | None = None
    """Email addresses for the user; the primary one (or userName, when it is an address) signs them in."""

    Emails: ClassVar[type[ComplexAttribute]] = Email

    groups: Annotated[list[GroupMembership] | None, Mutability.read_only] = None
    """The directory groups the user is a member of (set through the groups' members)."""

    Groups: ClassVar[type[ComplexAttribute]] = GroupMembership


# Real directories' departures from RFC 7644, accepted (each with the request that needs it, recorded from their
# documentation, in tests/auth/scim/recorded/):
# - unknown attributes are dropped: Okta's creation sends `password` and `locale`, Entra's `roles` and the
#   enterprise extension, neither of which Enclave keeps;
# - a PATCH `remove` whose `value` lists the members to remove: Entra's group membership removal;
# - a PATCH path filter matching no entry creates it: Entra's `emails[type eq "work"].value` on a user without one.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="SCIM token",
            description="Authorization: Bearer scim_<id>_<secret>, a token the tenant's administrator creates "
            "(enclave scim token create)",
            primary=True,
        )
    ],
)

PROVIDER = ScimProvider(
    models=[User, Group],
    resource_types=[ResourceType.from_resource(User), ResourceType.from_resource(Group)],
    config=CONFIG,
    policy=POLICY,
)
