"""pytest plugin: a real ``gcp-storage-emulator`` process on 127.0.0.1 for the test session.

Register with ``pytest_plugins = ["tests.support.gcs"]``. The ``gcs_emulator`` fixture yields the
host URL (``http://127.0.0.1:<port>``); tests point the client at it with
``monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.common import HOST, free_port



def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> int:
    """SIGTERM the process by PID, SIGKILL it if it ignores that; return its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gcp-storage-emulator exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/", timeout=1) as resp:  # health check route
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"gcp-storage-emulator did not answer on {url} within {timeout}s")


@contextlib.contextmanager
def run_gcs_emulator(timeout: float = 20.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the emulator (in memory) on a free port; yield (host URL, process); stop it by PID."""
    with tempfile.TemporaryDirectory(prefix="gcs-emulator-") as tmp:
        log = Path(tmp) / "emulator.log"
        port = free_port()
        cmd = [sys.executable, "-m", "gcp_storage_emulator", "start",
               "--host", HOST, "--port", str(port), "--in-memory", "--quiet"]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            url = f"http://{HOST}:{port}"
            _wait_until_up(url, proc, log, timeout)
            yield url, proc
        finally:
            stop_process(proc)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """Host URL of a session-wide emulator; set it as STORAGE_EMULATOR_HOST in the test."""
    with run_gcs_emulator() as (url, _proc):
        yield url
