"""Pure layout, manifest and semester logic."""

from __future__ import annotations

import datetime as dt

import pytest

from jh_pipeline.semester import is_semester, semester_for
from jh_pipeline.store.base import (
    build_manifest,
    is_latest_key,
    latest_prefix,
    manifest_from_bytes,
    manifest_to_bytes,
    past_prefix,
)


def test_prefixes() -> None:
    assert past_prefix("spring-2026", "biol1435", "abc") == "spring-2026/biol1435/past/abc"
    assert latest_prefix("spring-2026", "biol1435") == "spring-2026/biol1435/latest"
    assert is_latest_key("spring-2026/biol1435/latest/conda/environment.yml")
    assert not is_latest_key("spring-2026/biol1435/past/abc/conda/environment.yml")
    assert not is_latest_key("spring-2026/latest/x")


def test_manifest_roundtrip_is_deterministic() -> None:
    files = {"julia/Manifest.toml": b"j", "conda/environment.yml": b"c"}
    one = build_manifest("fall-2025", "c1", "sha1", files)
    two = build_manifest("fall-2025", "c1", "sha1", dict(reversed(list(files.items()))))
    assert manifest_to_bytes(one) == manifest_to_bytes(two)
    assert manifest_from_bytes(manifest_to_bytes(one)) == one
    assert one.files["conda/environment.yml"].sha256 == (
        "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
    )


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 1, 1), "spring-2026"),
        (dt.date(2026, 5, 31), "spring-2026"),
        (dt.date(2026, 6, 1), "summer-2026"),
        (dt.date(2026, 7, 31), "summer-2026"),
        (dt.date(2026, 8, 1), "fall-2026"),
        (dt.date(2026, 12, 31), "fall-2026"),
        (dt.datetime(2025, 9, 15, 23, 59), "fall-2025"),
    ],
)
def test_semester_for(day: dt.date, expected: str) -> None:
    assert semester_for(day) == expected
    assert is_semester(expected)


@pytest.mark.parametrize("name", ["Spring-2026", "winter-2026", "spring2026", "spring-26", ""])
def test_is_semester_rejects(name: str) -> None:
    assert not is_semester(name)
