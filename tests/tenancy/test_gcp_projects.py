"""The GCP project-id rule, against the Resource Manager API's published constraints."""

from __future__ import annotations

import pytest

from tenancy.gcp import check_gcp_project_id, is_gcp_project_id, is_gcp_project_id_or_number


@pytest.mark.parametrize("value", ["acme-prod", "a12345", "a" * 30, "tenant-acme-2026"])
def test_valid_project_ids(value: str) -> None:
    assert is_gcp_project_id(value)
    assert check_gcp_project_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "acme",  # shorter than 6
        "a" * 31,  # longer than 30
        "1acme-prod",  # starts with a digit
        "acme-prod-",  # trailing hyphen
        "Acme-prod",  # upper case
        "acme_prod",  # underscore
        "acme-prod\n",  # a trailing newline
        "my-google-app",  # restricted strings
        "ssl-gateway",
        "null-island",
        "undefined-1",
        "example.com:acme",  # legacy domain-scoped ids are not created any more
        12345678,
    ],
)
def test_invalid_project_ids(value: object) -> None:
    assert not is_gcp_project_id(value)
    if isinstance(value, str):
        with pytest.raises(ValueError, match="6 to 30 lowercase"):
            check_gcp_project_id(value)


def test_project_numbers() -> None:
    assert is_gcp_project_id_or_number("123456789012")
    assert is_gcp_project_id_or_number("acme-prod")
    assert not is_gcp_project_id_or_number("0123456")
    assert not is_gcp_project_id_or_number("12345")
