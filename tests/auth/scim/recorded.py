"""What Okta's and Entra ID's SCIM clients send, as their own documentation shows it (request bodies copied as
published; only ids that tie one request to another are noted where a test replaces them).

Sources (read 2026-12-06 from the vendors' documentation repositories):
- Okta: "SCIM 2.0 Protocol Reference", https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
  (okta/okta-developer-docs, packages/@okta/vuepress-site/docs/reference/scim/scim-20/index.md,
  commit 02e8ee86314bfa4795f3cd29fe9465cce3a0a20a). Short request examples quoted, with attribution, for
  interoperability tests; © Okta, Inc.
- Microsoft: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID",
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
  (MicrosoftDocs/entra-docs, docs/identity/app-provisioning/use-scim-to-provision-users-and-groups.md, commit
  03cc7794b575d649a067f5bf0a533300a3550e52), and "Known issues and resolutions with SCIM 2.0 protocol
  compliance of the Microsoft Entra user provisioning service", .../application-provisioning-config-problem-
  scim-compatibility (same repository, commit 0596ed5741a1a56ff693666af21ef27e34386453): Entra's PATCH shapes
  without and with the `aadOptscim062020` flag. Microsoft Learn text is published under CC BY 4.0.
"""

from __future__ import annotations

from typing import Any

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

# -- Okta ---------------------------------------------------------------------------------------------------------
OKTA_USER_AGENT = "Okta SCIM Client 1.0.0"
OKTA_FIND_USER = 'userName eq "test.user@okta.local"'  # GET /Users?filter=...&startIndex=1&count=100
OKTA_CREATE_USER: dict[str, Any] = {
    "schemas": [USER],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}
# PUT /Users/{id}: the user as Okta read it (id, groups and meta included), with the change
OKTA_REPLACE_USER: dict[str, Any] = {
    "schemas": [USER],
    "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",  # a test puts the user's id here
    "userName": "test.user@okta.local",
    "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
    "active": True,
    "groups": [],
    "meta": {"resourceType": "User"},
}
OKTA_DEACTIVATE_USER: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "replace", "value": {"active": False}}],
}
OKTA_CREATE_GROUP: dict[str, Any] = {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}
# PATCH /Groups/{id}: the name update Okta sends with every membership update (the group's id in the value)
OKTA_RENAME_GROUP: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [
        {"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}}
    ],
}
# PATCH /Groups/{id}: one member out (by filter), one in (the two user ids are a test's)
OKTA_CHANGE_MEMBERS: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [
        {"op": "remove", "path": 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]'},
        {
            "op": "add",
            "path": "members",
            "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}],
        },
    ],
}
OKTA_REPLACE_MEMBERS: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [
        {
            "op": "replace",
            "path": "members",
            "value": [
                {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"},
                {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local"},
            ],
        }
    ],
}

# -- Microsoft Entra ID ---------------------------------------------------------------------------------------------
ENTRA_CREATE_USER: dict[str, Any] = {
    "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": True,
    "emails": [
        {"primary": True, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}
    ],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    "roles": [],
}
ENTRA_FIND_USER = 'userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"'
ENTRA_FIND_USER_BY_WORK_EMAIL = (
    'emails[type eq "work"].value eq "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"'
)
ENTRA_FIND_NOBODY = 'userName eq "non-existent user"'
ENTRA_UPDATE_MULTI_VALUED: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    ],
}
ENTRA_UPDATE_USER_NAME: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}],
}
ENTRA_DISABLE_USER: dict[str, Any] = {
    "Operations": [{"op": "Replace", "path": "active", "value": False}],
    "schemas": [PATCH_OP],
}
# without the aadOptscim062020 flag: the boolean as a string, capitalised
ENTRA_DISABLE_USER_LEGACY: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}
ENTRA_ADD_NICKNAME_LEGACY: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}],
}
ENTRA_REPLACE_MANY_LEGACY: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {
            "op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "value": "Eqpj",
        },
    ],
}
ENTRA_REPLACE_MANY: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            },
        },
    ],
}
ENTRA_CREATE_GROUP: dict[str, Any] = {
    "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {"resourceType": "Group"},
}
ENTRA_FIND_GROUP = 'displayName eq "displayName"'  # with excludedAttributes=members
ENTRA_RENAME_GROUP: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [
        {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}
    ],
}
# the member ids below are the documentation's; a test puts its user's id in their place
ENTRA_ADD_MEMBER: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}]}],
}
ENTRA_REMOVE_MEMBER: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}]}],
}
ENTRA_REMOVE_MEMBER_LEGACY: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}],
}
ENTRA_REMOVE_MEMBER_FLAGGED: dict[str, Any] = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "remove", "path": 'members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]'}],
}
