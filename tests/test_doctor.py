"""`jh-pipeline doctor` against real components: engine, registry, stores (local and the GCS emulator)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jh_pipeline.store import make_gcs_client

pytestmark = pytest.mark.docker


def doctor(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "doctor"], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120, check=False)


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return {line.split(":", 1)[0][6:]: line for line in result.stdout.splitlines()}


def test_all_required_checks_pass(docker_engine: Any, registry: str, tmp_path: Path) -> None:
    result = doctor({"JH_REGISTRY": registry, "JH_STORE_DIR": str(tmp_path / "store")}, tmp_path)
    found = lines(result)
    assert result.returncode == 0, result.stdout
    assert found["docker engine"].startswith("ok")
    assert found["registry"].startswith("ok") and "writable" in found["registry"]
    assert found["artifact store"].startswith("ok")
    assert found["disk space"].startswith("ok")
    assert list((tmp_path / "store").rglob("*.txt")) == []  # the probe is cleaned up


def test_unreachable_registry_fails_with_a_fix(docker_engine: Any, tmp_path: Path) -> None:
    result = doctor({"JH_REGISTRY": "127.0.0.1:9", "JH_STORE_DIR": str(tmp_path)}, tmp_path)
    assert result.returncode == 1
    assert "fix: PORT=5000 bash scripts/start-registry.sh" in lines(result)["registry"]


def test_gcs_store_checks(docker_engine: Any, registry: str, gcs_emulator: str, tmp_path: Path) -> None:
    make_gcs_client_env = {"STORAGE_EMULATOR_HOST": gcs_emulator}
    os.environ.update(make_gcs_client_env)
    try:
        client = make_gcs_client()
        if client.lookup_bucket("doctor") is None:
            client.create_bucket("doctor")
    finally:
        del os.environ["STORAGE_EMULATOR_HOST"]
    env = {"JH_REGISTRY": registry, "JH_STORE_BACKEND": "gcs", "JH_GCS_BUCKET": "doctor"}
    ok = doctor({**env, **make_gcs_client_env}, tmp_path)
    assert ok.returncode == 0, ok.stdout
    assert lines(ok)["gcs credentials"].startswith("ok")
    assert "gs://doctor" in lines(ok)["artifact store"]

    missing = doctor({**env, "JH_GCS_BUCKET": ""}, tmp_path)
    assert missing.returncode == 1
    assert "JH_GCS_BUCKET" in lines(missing)["artifact store"]
