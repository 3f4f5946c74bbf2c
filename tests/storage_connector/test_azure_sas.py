"""The stored-policy SAS fast path writes exactly the token azure-storage-blob's generate_blob_sas writes."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta

from azure.storage.blob import generate_blob_sas

from storage_connector.azure import policy_sas

ALPHABET = "abcXYZ019 -_.~!*'()+,;=:@&$?#[]%/\"<>^`{|}äöüßé€ሴ日本😀"


def test_byte_identical_to_the_sdk_on_random_names_times_and_keys() -> None:
    rng = random.Random("azure-sas")
    for _ in range(3000):
        key = base64.b64encode(rng.randbytes(64)).decode()
        blob = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40)))
        container = rng.choice(["acme-data", "c0-1", "x" * 63])
        policy = rng.choice(["enclave-r", "enclave-w", "p.o_l-1"])
        expiry = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10**8))
        expected = generate_blob_sas("acct", container, blob, account_key=key, expiry=expiry, policy_id=policy)
        assert policy_sas("acct", base64.b64decode(key), container, blob, policy, expiry) == expected, blob
