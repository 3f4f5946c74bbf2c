"""Directories send in parallel: the same user created by several requests at once is created once (the others
409 `uniqueness`, never a 500 or a duplicate), and concurrent membership changes to one group all land — against
a live gateway on MariaDB (READ COMMITTED, row locks) and on SQLite."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.auth.scim.helpers import patch, user_payload
from tests.support.scim import issue_scim_token, live_gateway, scim_http

PARALLEL = 8


def test_parallel_creations_and_membership_changes(database_url: str, tmp_path: Path) -> None:
    with live_gateway(database_url, tmp_path / "data") as (runtime, origin):
        token = issue_scim_token(runtime)
        with scim_http(origin, token) as client:

            def create(_: int) -> int:
                return client.post("/Users", json=user_payload("same@acme.test")).status_code

            with ThreadPoolExecutor(PARALLEL) as pool:
                statuses = sorted(pool.map(create, range(PARALLEL)))
            assert statuses == [201] + [409] * (PARALLEL - 1), statuses
            assert client.get("/Users", params={"filter": 'userName eq "same@acme.test"'}).json()["totalResults"] == 1

            ids = [client.post("/Users", json=user_payload(f"m{i}@acme.test")).json()["id"] for i in range(PARALLEL)]
            group = client.post("/Groups", json={"displayName": "Staff"}).json()["id"]

            def join(scim_id: str) -> int:
                body = patch({"op": "add", "path": "members", "value": [{"value": scim_id}]})
                for _ in range(5):  # a lock wait the database gave up on answers 503/409: the directory retries
                    status = client.patch(f"/Groups/{group}", json=body).status_code
                    if status == 204:
                        return status
                return status

            with ThreadPoolExecutor(PARALLEL) as pool:
                assert set(pool.map(join, ids)) == {204}
            members = client.get(f"/Groups/{group}").json()["members"]
            assert sorted(m["value"] for m in members) == sorted(ids)
