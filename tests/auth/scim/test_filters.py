"""SCIM filters as SQL: every attribute Enclave filters on, each operator, `and` / `or` / `not`, values compared
as RFC 7643 says (userName and emails without case, ids and externalId exactly), LIKE's own wildcards taken
literally, and what cannot be filtered refused with `invalidFilter` — on SQLite and MariaDB (binary keys)."""

from __future__ import annotations

from typing import Any

import pytest
from scim2_models import Context, Group, InvalidFilterException, SCIMException, SearchRequest

from auth.scim.directory import Page, validated
from auth.scim.schema import User
from enclave.runtime import Runtime
from enclave.services import Services
from tests.auth.scim.helpers import BASE, directory, user_payload

ALL = Page(1, 200)


def parse(model: type[Any], text: str) -> Any:
    search = validated(SearchRequest[model], {"filter": text}, Context.SEARCH_REQUEST)  # type: ignore[valid-type]
    return search.filter.ast if search.filter else None


@pytest.fixture
def people(runtime: Runtime) -> tuple[Services, dict[str, str]]:
    services = Services.build(runtime)
    made = {
        "ann": services.scim.create_user(
            directory(),
            user_payload(
                "Ann.Lee@Acme.test",
                externalId="00uANN",
                displayName="Ann Lee",
                emails=[
                    {"value": "ann@acme.test", "type": "work", "primary": True},
                    {"value": "a@home.test", "type": "home"},
                ],
            ),
            BASE,
        ),
        "bob": services.scim.create_user(
            directory(), user_payload("bob_100%@acme.test", displayName="Bob", active=False), BASE
        ),
        "cy": services.scim.create_user(directory(), user_payload("cy", externalId="00ucy"), BASE),
        "zoë": services.scim.create_user(directory(), user_payload("Zoë@acme.test", displayName="ZOË"), BASE),
    }
    return services, {name: resource.id or "" for name, resource in made.items()}


def found(services: Services, text: str) -> set[str]:
    page = services.scim.list_users(directory(), parse(User, text), ALL, BASE)
    assert page.total == len(page.rows)
    return {str(resource.user_name) for resource in page.rows}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "ann.lee@acme.test"', {"Ann.Lee@Acme.test"}),  # caseExact false
        ('USERNAME EQ "ANN.LEE@ACME.TEST"', {"Ann.Lee@Acme.test"}),  # attribute names and operators too
        ('userName eq "zoë@acme.test"', {"Zoë@acme.test"}),  # lower-cased beyond ASCII
        ('userName eq "zoe@acme.test"', set()),  # no accent folding (a binary key on MariaDB)
        ('externalId eq "00uANN"', {"Ann.Lee@Acme.test"}),
        ('externalId eq "00uann"', set()),  # caseExact true
        ('emails.value eq "A@HOME.TEST"', {"Ann.Lee@Acme.test"}),  # any of the user's emails
        ('emails eq "ann@acme.test"', {"Ann.Lee@Acme.test"}),  # a bare multi-valued attribute is its value
        ('emails[type eq "work"].value eq "ann@acme.test"', {"Ann.Lee@Acme.test"}),  # Entra's matching
        ('emails[type eq "home" and value eq "ann@acme.test"]', set()),  # both on the same email
        ('displayName eq "zoë"', {"Zoë@acme.test"}),
        ('userName sw "bob_"', {"bob_100%@acme.test"}),
        ('userName co "_100%"', {"bob_100%@acme.test"}),  # LIKE's wildcards are literal
        ('userName co "%"', {"bob_100%@acme.test"}),
        ('userName ew "@acme.test"', {"Ann.Lee@Acme.test", "bob_100%@acme.test", "Zoë@acme.test"}),
        ("active eq false", {"bob_100%@acme.test"}),
        ("active ne false", {"Ann.Lee@Acme.test", "cy", "Zoë@acme.test"}),
        ("externalId pr", {"Ann.Lee@Acme.test", "cy"}),
        ('not (externalId eq "00ucy")', {"Ann.Lee@Acme.test", "bob_100%@acme.test", "Zoë@acme.test"}),
        ('userName eq "cy" or externalId eq "00uANN"', {"Ann.Lee@Acme.test", "cy"}),
        ("displayName pr and not (active eq false)", {"Ann.Lee@Acme.test", "Zoë@acme.test"}),
        ('meta.created gt "2000-01-01T00:00:00Z"', {"Ann.Lee@Acme.test", "bob_100%@acme.test", "cy", "Zoë@acme.test"}),
        ('meta.lastModified lt "2000-01-01T00:00:00Z"', set()),
        ('userName gt "c"', {"cy", "Zoë@acme.test"}),  # ordering on the lower-cased key
    ],
)
def test_user_filters(people: tuple[Services, dict[str, str]], text: str, expected: set[str]) -> None:
    services, _ = people
    assert found(services, text) == expected


def test_id_filters_are_exact(people: tuple[Services, dict[str, str]]) -> None:
    services, ids = people
    assert found(services, f'id eq "{ids["cy"]}"') == {"cy"}
    assert found(services, f'id eq "{ids["cy"].upper()}"') == set()


@pytest.mark.parametrize(
    "text",
    [
        'name.familyName eq "Lee"',  # declared, but not stored in a column
        'emails.display eq "x"',
        'emails[display eq "x"]',
        'title eq "x"',  # not an attribute of Enclave's users
        "active eq 1",
        'active co "t"',
        "userName eq 5",
        'meta.created gt "yesterday"',
        'meta.created gt "2026-01-01T00:00:00"',  # no zone
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"',
        "userName eq",  # syntax
        'userName eq "x" and',
    ],
)
def test_unsupported_or_malformed_filters_are_invalid_filter(
    people: tuple[Services, dict[str, str]], text: str
) -> None:
    services, _ = people
    with pytest.raises(SCIMException) as refused:
        services.scim.list_users(directory(), parse(User, text), ALL, BASE)
    assert refused.value.scim_type == "invalidFilter"
    assert isinstance(refused.value, InvalidFilterException) or refused.value.status == 400


def test_group_filters_and_membership(people: tuple[Services, dict[str, str]]) -> None:
    services, ids = people
    admins = services.scim.create_group(
        directory(),
        {
            "displayName": "Enclave Admins",
            "externalId": "g-1",
            "members": [{"value": ids["ann"]}, {"value": ids["cy"]}],
        },
        BASE,
    )
    services.scim.create_group(directory(), {"displayName": "Staff", "members": [{"value": ids["bob"]}]}, BASE)

    def groups(text: str) -> set[str]:
        page = services.scim.list_groups(directory(), parse(Group, text), ALL, BASE)
        return {str(resource.display_name) for resource in page.rows}

    assert groups('displayName eq "enclave admins"') == {"Enclave Admins"}
    assert groups('externalId eq "g-1"') == {"Enclave Admins"}
    assert groups(f'members eq "{ids["bob"]}"') == {"Staff"}
    # Entra asks whether a user is a member of a group this way
    assert groups(f'id eq "{admins.id}" and members eq "{ids["cy"]}"') == {"Enclave Admins"}
    assert groups(f'id eq "{admins.id}" and members eq "{ids["bob"]}"') == set()
    assert groups(f'members[value eq "{ids["ann"]}"]') == {"Enclave Admins"}
    assert groups("members pr") == {"Enclave Admins", "Staff"}
    with pytest.raises(SCIMException):
        services.scim.list_groups(directory(), parse(Group, 'members.display eq "x"'), ALL, BASE)


def test_pages_are_stable_and_bounded(people: tuple[Services, dict[str, str]]) -> None:
    services, _ = people
    whole = [r.id for r in services.scim.list_users(directory(), None, ALL, BASE).rows]
    pages = [services.scim.list_users(directory(), None, Page(start, 1), BASE) for start in range(1, 6)]
    assert [p.total for p in pages] == [4] * 5
    assert [r.id for p in pages for r in p.rows] == whole  # same order, nothing twice or lost
    assert services.scim.list_users(directory(), None, Page(1, 0), BASE).rows == []
