"""Fixtures for the artifact store tests: one ``store`` fixture runs every test on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jh_pipeline.store import ArtifactStore, GCSStore, LocalStore, make_gcs_client

BUCKET = "jh-test"


@pytest.fixture
def emulator_env(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point google-cloud-storage at the emulator and make sure the test bucket exists."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    client = make_gcs_client()
    if client.lookup_bucket(BUCKET) is None:
        client.create_bucket(BUCKET)
    return gcs_emulator


@pytest.fixture(params=["local", "gcs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "artifacts")
    else:
        request.getfixturevalue("emulator_env")
        # A fresh prefix per test isolates tests sharing the session's emulator and bucket.
        yield GCSStore(BUCKET, prefix=f"t-{uuid.uuid4().hex[:12]}")
