"""pytest plugin: one offline quickstart per test session, shared by the quickstart and UI tests.

``quickstart_run``: the README's first command (`jh-pipeline quickstart --offline`) run once in its own
folder, registry port and channel port; yields its environment and its first output. The registry it
leaves running (as it does for students, to `docker pull`) is stopped by PID at session end, and the
images tagged for it are removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from jh_pipeline.processes import kill_pid
from tests.support.common import HOST, free_port


@dataclass(frozen=True)
class QuickstartRun:
    env: dict[str, str]  # JH_QUICKSTART_DIR and the ports, over os.environ
    folder: Path
    registry: str  # 127.0.0.1:<port>, left running by the quickstart
    first: subprocess.CompletedProcess[str]

    def again(self) -> subprocess.CompletedProcess[str]:
        return quickstart(self.env)


def quickstart(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "quickstart", "--offline"], env=env,
                          capture_output=True, text=True, timeout=1200, check=False, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def quickstart_run(docker_engine: docker.DockerClient, foundation_image: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuickstartRun]:
    folder = tmp_path_factory.mktemp("quickstart") / "work"
    port = free_port()
    env = {**os.environ, "JH_QUICKSTART_DIR": str(folder), "JH_QUICKSTART_REGISTRY_PORT": str(port),
           "JH_OFFLINE_CHANNEL_PORT": str(free_port())}
    registry = f"{HOST}:{port}"
    try:
        yield QuickstartRun(env, folder, registry, quickstart(env))
    finally:
        pid_file = folder / "registry" / "registry.pid"
        if pid_file.exists():
            kill_pid(int(pid_file.read_text()))
        for image in docker_engine.images.list():
            for tag in image.tags:
                if tag.startswith(f"{registry}/"):
                    docker_engine.images.remove(tag)
