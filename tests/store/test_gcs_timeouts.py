"""An unreachable GCS store fails within the configured time, naming the bucket and the settings."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from jh_pipeline.errors import EndpointUnreachable
from jh_pipeline.store import GCSStore
from tests.support.docker import free_port

TIMEOUT = 2.0


@pytest.fixture()
def silent_endpoint() -> Iterator[str]:
    """A port that accepts connections and never answers (a hung proxy or firewall)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize("where", ["closed_port", "silent"])
def test_unreachable_store_fails_in_bounded_time(
    where: str, silent_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = silent_endpoint if where == "silent" else f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
    store = GCSStore("jh-envs", timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(EndpointUnreachable) as info:
        store.read_latest_manifest("fall-2026", "demo")
    elapsed = time.monotonic() - started
    # One request may start just before the budget ends and wait its own timeout: at most twice it.
    assert elapsed < 2 * TIMEOUT + 2, f"took {elapsed:.1f}s"
    first_line, detail = str(info.value).split("\n", 1)
    assert first_line == (
        f"artifact store gs://jh-envs (emulator {host}) is unreachable (check JH_GCS_BUCKET, JH_GCS_PROJECT, "
        "STORAGE_EMULATOR_HOST, credentials, JH_STORE_TIMEOUT)"
    )
    assert detail.startswith("read fall-2026/demo/latest/MANIFEST.json: ")

