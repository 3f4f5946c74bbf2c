"""Multipart uploads on the embedded local store through signed URLs, over HTTP as a browser sends them:
create, parts in any order (a part sent again replaces itself), complete joins the listed parts into the
object whole; the upload is bound to its object; tampered URLs, bad bodies and missing parts are refused."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auth.roles import Role
from enclave.runtime import Runtime
from storage_connector.local import ABANDONED_UPLOAD_SECONDS, MULTIPART_DIR, LocalStore, LocalUploadNotFoundError
from tests.enclave.api.helpers import bearer, issue_key
from tests.enclave.api.test_storage_routes import _connect, _send

PART = 1024 * 1024


def _urls(client: TestClient, headers: dict[str, str], *items: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/api/v1/storage/urls", headers=headers, json={"items": list(items)})
    assert response.status_code == 200, response.text
    urls: list[dict[str, Any]] = response.json()["urls"]
    return urls


def _create(client: TestClient, member: dict[str, str], key: str) -> str:
    (create,) = _urls(client, member, {"operation": "multipart-create", "key": key})
    assert create["method"] == "POST"
    created = _send(client, create)
    assert created.status_code == 200, created.text
    upload_id: str = created.json()["upload_id"]
    return upload_id


def _part_urls(client: TestClient, member: dict[str, str], key: str, upload_id: str, count: int) -> list[Any]:
    items = [
        {"operation": "multipart-part", "key": key, "upload_id": upload_id, "part_number": n + 1} for n in range(count)
    ]
    return _urls(client, member, *items)


def test_a_file_goes_up_in_parts_and_comes_down_whole(runtime: Runtime, dedicated: TestClient) -> None:
    _connect(dedicated, runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    body = os.urandom(3 * PART + 12345)
    chunks = [body[i : i + PART] for i in range(0, len(body), PART)]
    upload_id = _create(dedicated, member, "big/file.bin")
    parts = _part_urls(dedicated, member, "big/file.bin", upload_id, len(chunks))
    for number in (4, 2, 1, 3):  # any order; part 2 is sent twice, first with other bytes
        if number == 2:
            assert _send(dedicated, parts[1], b"garbage").status_code == 201
        assert _send(dedicated, parts[number - 1], chunks[number - 1]).status_code == 201
    (complete, get) = _urls(
        dedicated,
        member,
        {"operation": "multipart-complete", "key": "big/file.bin", "upload_id": upload_id},
        {"operation": "get", "key": "big/file.bin"},
    )
    assert _send(dedicated, get).status_code == 404  # nothing before completion
    done = dedicated.post(complete["url"], json={"parts": [1, 2, 3, 4]})
    assert done.status_code == 200 and done.json() == {"size": len(body)}
    downloaded = _send(dedicated, get)
    assert hashlib.sha256(downloaded.content).digest() == hashlib.sha256(body).digest()
    assert dedicated.post(complete["url"], json={"parts": [1, 2, 3, 4]}).status_code == 404  # the upload is gone


def test_bad_completions_and_tampered_urls_are_refused(runtime: Runtime, dedicated: TestClient) -> None:
    _connect(dedicated, runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    upload_id = _create(dedicated, member, "a.bin")
    (part1, part2) = _part_urls(dedicated, member, "a.bin", upload_id, 2)
    assert _send(dedicated, part1, b"one").status_code == 201
    (complete,) = _urls(dedicated, member, {"operation": "multipart-complete", "key": "a.bin", "upload_id": upload_id})
    for body, status, message in [
        ({"parts": [1, 2]}, 400, "part 2 was not uploaded"),
        ({"parts": [2, 1]}, 400, "ascending"),
        ({"parts": [1, 1]}, 400, "ascending"),
        ({"parts": []}, 400, "part numbers"),
        ({"parts": "1"}, 400, "part numbers"),
    ]:
        refused = dedicated.post(complete["url"], json=body)
        assert refused.status_code == status and message in refused.text, (body, refused.text)
    # a part URL turned into a plain put, or onto another part number, breaks the signature
    plain = part2["url"].replace(f"upload-id={upload_id}&", "").replace("&part-number=2", "")
    assert dedicated.put(plain, content=b"x").status_code == 403
    assert dedicated.put(part2["url"].replace("part-number=2", "part-number=3"), content=b"x").status_code == 403
    # an upload id is bound to the object it was created for
    (other,) = _urls(
        dedicated,
        member,
        {"operation": "multipart-part", "key": "b.bin", "upload_id": upload_id, "part_number": 1},
    )
    assert _send(dedicated, other, b"x").status_code == 404
    (unknown,) = _part_urls(dedicated, member, "a.bin", "A" * 32, 1)
    assert _send(dedicated, unknown, b"x").status_code == 404
    (abort,) = _urls(dedicated, member, {"operation": "multipart-abort", "key": "a.bin", "upload_id": upload_id})
    assert _send(dedicated, abort).status_code == 204
    assert dedicated.post(complete["url"], json={"parts": [1]}).status_code == 404


def test_parts_stop_when_the_grant_is_revoked(runtime: Runtime, dedicated: TestClient) -> None:
    admin, _ = _connect(dedicated, runtime)
    member = bearer(issue_key(runtime, "acme", Role.MEMBER))
    upload_id = _create(dedicated, member, "c.bin")
    (part,) = _part_urls(dedicated, member, "c.bin", upload_id, 1)
    assert (
        dedicated.post("/api/v1/storage/grants/default/revoke", headers=admin, json={"reason": "x"}).status_code == 200
    )
    refused = _send(dedicated, part, b"x")
    assert refused.status_code == 403 and "revoked" in refused.text


def test_uploads_left_idle_for_a_week_are_dropped(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    idle = store.create_upload("data", "old.bin")
    busy = store.create_upload("data", "new.bin")
    week_ago = time.time() - ABANDONED_UPLOAD_SECONDS - 60
    os.utime(tmp_path / MULTIPART_DIR / idle, (week_ago, week_ago))
    store.create_upload("data", "third.bin")
    assert not (tmp_path / MULTIPART_DIR / idle).exists()
    assert (tmp_path / MULTIPART_DIR / busy).exists()
    with pytest.raises(LocalUploadNotFoundError):
        store.complete_upload("data", "old.bin", idle, [1])
