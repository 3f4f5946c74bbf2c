from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage_connector.ttl import DEFAULT_TTL, HARD_MAX_TTL, TtlPolicy, TtlPolicyError

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_defaults_and_bounds() -> None:
    policy = TtlPolicy()
    assert policy.lifetime(None) == DEFAULT_TTL == timedelta(minutes=15)
    assert policy.lifetime(3600) == HARD_MAX_TTL
    for bad in (0, -5, 3601, True):
        with pytest.raises(TtlPolicyError, match="between 1 and 3600"):
            policy.lifetime(bad)


def test_a_tenant_policy_cannot_exceed_the_hard_maximum() -> None:
    with pytest.raises(TtlPolicyError):
        TtlPolicy(maximum=timedelta(hours=2))
    with pytest.raises(TtlPolicyError):
        TtlPolicy(default=timedelta(minutes=20), maximum=timedelta(minutes=10))
    assert TtlPolicy(timedelta(minutes=5), timedelta(minutes=10)).lifetime(None) == timedelta(minutes=5)


def test_a_url_never_outlives_its_credentials() -> None:
    assert TtlPolicy.expiry(NOW, timedelta(minutes=15), None) == NOW + timedelta(minutes=15)
    soon = NOW + timedelta(minutes=4)
    assert TtlPolicy.expiry(NOW, timedelta(minutes=15), soon) == soon
    assert TtlPolicy.expiry(NOW, timedelta(minutes=15), NOW + timedelta(hours=1)) == NOW + timedelta(minutes=15)
