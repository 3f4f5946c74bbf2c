"""scim2-tester (0.5.2, the python-scim project's published checker) against a live gateway: uvicorn on a
loopback port, the checker's scim2-client over HTTP with a SCIM token, on SQLite and on MariaDB. It reads the
service's own discovery (ServiceProviderConfig, ResourceTypes, Schemas) and checks everything it declares:
discovery, every method each endpoint refuses, create / read / list / partial representations / replace /
delete of each resource type, and PATCH add / remove / replace of every attribute of the published schemas.
The reference server (`scim2-server`) passes all of its checks, so any failure here is ours: none is allowed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from scim2_tester import Status, check_server

from tests.support.scim import HttpxScimClient, issue_scim_token, live_gateway, scim_http

# searching every resource type at once (POST /.search) is optional (RFC 7644 §3.4.3) and not offered
EXPECTED_SKIPS = {("User", "search_with_attributes"), ("Group", "search_with_attributes")}


def test_the_published_checker_finds_no_failure(database_url: str, tmp_path: Path) -> None:
    with live_gateway(database_url, tmp_path / "data") as (runtime, origin):
        token = issue_scim_token(runtime)
        with scim_http(origin, token) as http:
            client = HttpxScimClient(http)
            client.discover()
            results = check_server(client)
    failures = [
        f"{r.resource_type} {r.title}: {r.status.name} {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED)
    ]
    assert not failures, "\n".join(failures)
    skipped = {(r.resource_type, r.title) for r in results if r.status is Status.SKIPPED}
    assert skipped == EXPECTED_SKIPS
    counts = Counter(r.status for r in results)
    assert counts[Status.SUCCESS] >= 65  # every check of the schemas Enclave publishes ran
    titles = {r.title for r in results}
    assert {"check_add_attribute", "check_remove_attribute", "check_replace_attribute", "object_deletion"} <= titles
