"""pytest plugin: a Docker engine, a local registry and the foundation image for the test session.

Register with ``pytest_plugins = ["tests.support.docker"]`` (root conftest) or import the fixtures
into a directory's conftest.

- ``docker_engine``: a ``docker.DockerClient``. When no engine answers, runs
  ``scripts/start-dockerd.sh`` (no bridge, no iptables) and stops that daemon by PID at session end;
  an engine that was already running is left alone. At session start it removes the local tags
  of loopback registries that no longer answer (every test registry is gone after its session) and the
  dangling images older than two hours (a session running beside this one keeps its stage images,
  which are untagged), so repeated sessions do not fill the disk (doctor wants 20 GB free); a
  session's own images stay until the next one starts.
- ``registry``: ``"127.0.0.1:<port>"`` of a Debian ``docker-registry`` on a free loopback port
  (``scripts/start-registry.sh``), stopped by PID at session end.
- ``foundation_image``: ``"jh-local/foundation:latest"``, built with ``scripts/build-local-base.sh``
  + ``scripts/build-foundation.sh`` when missing or out of date. Docker keeps images, so later
  sessions on the same machine find it ready (the scripts then return at once).

Everything uses host networking; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from jh_pipeline.processes import kill_pid, pid_alive
from tests.support.common import HOST, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
BASE_IMAGE = "jh-local/debian:bookworm"
FOUNDATION_IMAGE = "jh-local/foundation:latest"

# Cold builds (debootstrap + foundation) take about a minute here; leave room for slow mirrors.
BUILD_TIMEOUT = float(os.environ.get("JH_FOUNDATION_BUILD_TIMEOUT", "1800"))


def engine_answers() -> bool:
    try:
        client = docker.from_env(timeout=10)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, no permission, daemon starting: all mean "not usable yet"
        return False


# Re-exported for the other test helpers: the package's own PID-based stopping.
_alive = pid_alive


def run_script(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 600,
               log: Path | None = None) -> str:
    """Run scripts/<name>; return its stdout. On failure the error carries stderr (or the log's tail)."""
    cmd = ["bash", str(SCRIPTS / name), *args]
    full_env = {**os.environ, **(env or {})}
    if log is None:
        proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        details = proc.stderr
    else:
        with log.open("w") as err:
            proc = subprocess.run(cmd, env=full_env, stdout=subprocess.PIPE, stderr=err, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        details = "\n".join(log.read_text().splitlines()[-60:])
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed with exit code {proc.returncode}:\n{details}")
    return proc.stdout


def _pid_from(stdout: str) -> int | None:
    lines = stdout.strip().splitlines()
    return int(lines[-1]) if lines and lines[-1].strip().isdigit() else None


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def remove_stale_test_images(client: docker.DockerClient) -> None:
    """Untag images of loopback registries that are gone (and drop those only pulled from one, by
    digest), then drop old dangling images."""
    prefix = f"{HOST}:"
    live: dict[int, bool] = {}

    def gone(name: str) -> bool:
        if not name.startswith(prefix):
            return False
        port = int(name[len(prefix):].split("/", 1)[0])
        if port not in live:
            live[port] = _answers(port)
        return not live[port]

    for image in client.images.list():
        digests = image.attrs.get("RepoDigests") or []
        # A tag at a time; an image with no tag left, pulled by digest from a gone registry, by id.
        names = image.tags or ([image.id] if digests and all(gone(d) for d in digests) else [])
        for name in names:
            if name != image.id and not gone(name):
                continue
            try:
                client.images.remove(name)
            except docker.errors.APIError:  # still used by a container: the next session retries
                pass
    client.images.prune(filters={"dangling": True, "until": "2h"})


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker.DockerClient]:
    started: int | None = None
    if not engine_answers():
        state = tmp_path_factory.mktemp("dockerd")
        started = _pid_from(run_script("start-dockerd.sh", str(state), timeout=900))
    client = docker.from_env(timeout=900)
    # Once per session, at its start (before doctor's disk check): what earlier sessions left.
    remove_stale_test_images(client)
    try:
        yield client
    finally:
        client.close()
        if started is not None:
            kill_pid(started)


@pytest.fixture(scope="session")
def registry(docker_engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    state = tmp_path_factory.mktemp("registry")
    pid = _pid_from(run_script("start-registry.sh", str(state), env={"PORT": str(port)}, timeout=600))
    if pid is None:
        raise RuntimeError("start-registry.sh printed no PID")
    try:
        yield f"{HOST}:{port}"
    finally:
        kill_pid(pid)


@pytest.fixture(scope="session")
def foundation_image(docker_engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    logs = tmp_path_factory.mktemp("foundation-build")
    env = {"BASE_TAG": BASE_IMAGE, "BASE_IMAGE": BASE_IMAGE, "FOUNDATION_TAG": FOUNDATION_IMAGE}
    run_script("build-local-base.sh", env=env, timeout=BUILD_TIMEOUT, log=logs / "base.log")
    run_script("build-foundation.sh", env=env, timeout=BUILD_TIMEOUT, log=logs / "foundation.log")
    docker_engine.images.get(FOUNDATION_IMAGE)  # raises ImageNotFound if the scripts lied
    return FOUNDATION_IMAGE
