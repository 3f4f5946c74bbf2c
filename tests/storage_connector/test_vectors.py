"""The conformance vectors the storage tests use are vendored in the repository, with their licences: no test
reads outside it."""

from __future__ import annotations

from pathlib import Path

from tests.storage_connector import test_gcs_signer, test_gcs_v4, test_sigv4

ROOT = Path(__file__).resolve().parents[2]
VECTORS = Path(__file__).resolve().parent / "vectors"


def test_vectors_are_read_from_inside_the_repository() -> None:
    for path in (test_sigv4.VECTORS, test_gcs_v4.CONFORMANCE, test_gcs_signer.KEY_FILE):
        assert ROOT in path.resolve().parents, path
        assert VECTORS in path.resolve().parents, path


def test_each_vendored_set_keeps_its_licence_and_origin() -> None:
    readme = (VECTORS / "README.md").read_text()
    for folder, origin in (("aws-sigv4", "awslabs/aws-c-auth"), ("gcs-v4", "googleapis/conformance-tests")):
        assert "Apache License" in (VECTORS / folder / "LICENSE").read_text()
        assert origin in readme and f"`{folder}/`" in readme
