"""The README's first command: the quickstart builds its example class end to end, then is a no-op."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker import free_port

pytestmark = pytest.mark.docker


def test_offline_quickstart_end_to_end_then_no_op(docker_engine: Any, foundation_image: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "JH_QUICKSTART_DIR": str(tmp_path / "quickstart"),
        "JH_QUICKSTART_REGISTRY_PORT": str(free_port()),
        "JH_OFFLINE_CHANNEL_PORT": str(free_port()),
    }

    def quickstart() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "quickstart", "--offline"], env=env,
                              capture_output=True, text=True, timeout=1200, check=False)

    try:
        first = quickstart()
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
        out = first.stdout
        assert "offline profile" in out and "[5/5] results" in out
        assert "[5/5 steps done]" in out and "smoke_tests" not in out.split("[5/5]")[1]  # results, not failures
        assert "Step 1/" in out  # the build log streamed while it ran
        assert "demo/latest/conda/conda-linux-64.lock" in out
        assert f"image:        127.0.0.1:{env['JH_QUICKSTART_REGISTRY_PORT']}/demo:latest" in out

        second = quickstart()
        assert second.returncode == 0, second.stdout[-4000:]
        assert second.stdout.count("nothing to do") == 5  # server env and image, env files, image, release
    finally:
        pid_file = tmp_path / "quickstart" / "registry" / "registry.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
