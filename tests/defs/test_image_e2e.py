"""Hermetic end to end through Dagster: env files -> image build -> smoke checks -> push -> release.

Real Docker engine (host networking), real registry, local conda channel, foundation base image.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import docker
import pytest

from jh_pipeline.images.resource import DockerResource
from tests.defs.e2e import E2E, check, metadata, run_class
from tests.support.common import SEMESTER

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def e2e(demo_e2e: E2E) -> E2E:
    return demo_e2e


def test_base_class_builds_checks_pushes_and_releases(e2e: E2E, demo_release: dg.ExecuteInProcessResult) -> None:
    result = demo_release
    assert result.success
    server = check(result, "server_checks")
    assert server.passed, server.metadata
    smoke = check(result, "smoke_tests")
    assert smoke.passed, smoke.metadata
    assert {"packages_import", "default_kernel", "notebook_executes", "jupyter_server_answers", "runs_as_uid_1000",
            "no_leftover_cache", "jupyterhub_singleuser", "size_budget", "terminal_python_pip",
            "sqlite_kernel"} <= set(smoke.metadata)
    meta = {k: v.value for k, v in smoke.metadata.items()}
    assert "python3 = Demo class (/opt/envs/demo/bin/python" in meta["default_kernel"], meta["default_kernel"]
    assert "xsqlite" in meta["default_kernel"]

    image = metadata(result, "demo/image")
    assert image["pushed"] is True and image["digest"].startswith("sha256:")
    assert image["layers"] > 3 and image["size_mb"] > 100
    ref = image["ref"]

    client = docker.from_env()
    client.images.remove(ref, force=True)  # pull it back from the registry
    client.images.pull(ref.rsplit(":", 1)[0], tag=ref.rsplit(":", 1)[1])
    # What a student gets: `python` is the class env's, and it has the class's and the shared packages.
    out = client.containers.run(ref, ["bash", "-lc", "python -c 'import sys, tabulate, attrs, six; print(sys.prefix)'"],
                                network_mode="host", remove=True)
    assert out.decode().strip() == "/opt/envs/demo"

    release = metadata(result, "demo/release")
    repository = ref.rsplit(":", 1)[0]
    assert f"{repository}:latest" in release["tags"] and f"{repository}:{SEMESTER}" in release["tags"]
    latest = e2e.store.read_latest_manifest(SEMESTER, "demo")
    assert latest is not None and latest.set_id == image["image_tag"]
    assert "conda/conda-linux-64.lock" in latest.files
    assert "server/conda-lock.yml" in latest.files and "server/README.md" in latest.files  # the server env too
    index = e2e.store.read_bytes(f"{SEMESTER}/index.html").decode()  # the student index
    # Students follow links into the immutable set, never into latest/ (which a release rewrites).
    assert f"demo/past/{image['image_tag']}/conda/environment.yml" in index and f"{repository}:latest" in index
    assert "demo/latest/conda/" not in index

    again = run_class(e2e, "demo")  # fresh instance, nothing changed: no solve, no build, no retag
    assert again.success
    assert metadata(again, "demo/conda_env")["skipped"] is True
    assert metadata(again, "demo/image")["skipped"] is True
    assert metadata(again, "demo/release")["skipped"] is True


def test_failing_smoke_check_blocks_the_release(e2e: dict[str, Any]) -> None:
    result = run_class(e2e, "tiny")  # a 1 MB budget no image meets
    assert not result.success
    smoke = check(result, "smoke_tests")
    assert not smoke.passed
    assert "size_budget" in (smoke.description or "")
    assert metadata(result, "tiny/image")["pushed"] is False
    assert metadata(result, "tiny/release") == {}
    assert e2e.store.read_latest_manifest(SEMESTER, "tiny") is None
    assert not DockerResource(registry=e2e.registry).tag_exists(f"{e2e.registry}/tiny:latest")


def test_image_runs_locally_with_the_readme_command(e2e: dict[str, Any]) -> None:
    """README: `docker run ... <image> start-notebook.sh --ip ...` starts JupyterLab (host networking here)."""
    import socket
    import time
    import urllib.request

    ref = f"{e2e.registry}/demo:latest"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = docker.from_env()
    container = client.containers.run(
        ref, ["start-notebook.sh", "--ip", "127.0.0.1", "--port", str(port), "--ServerApp.token="],
        network_mode="host", detach=True,
    )
    try:
        deadline, page = time.monotonic() + 90, ""
        while time.monotonic() < deadline and "JupyterLab" not in page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=3) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(1)
        assert "JupyterLab" in page, container.logs().decode()[-2000:]
    finally:
        container.remove(force=True)


def test_unreachable_registry_fails_the_image_step_naming_it(e2e: E2E) -> None:
    """The registry gone (a closed port): the image step fails at once, its first line naming the
    registry and JH_REGISTRY, then the detail; nothing is solved or built first."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    resources = {**e2e.resources, "docker": DockerResource(registry=f"127.0.0.1:{port}", registry_timeout=3)}
    started = time.monotonic()
    result = dg.materialize(list(e2e.defs.assets or []), instance=dg.DagsterInstance.ephemeral(), resources=resources,
                            selection=dg.AssetSelection.assets(dg.AssetKey(["demo", "image"])), raise_on_error=False)
    assert not result.success
    assert time.monotonic() - started < 30
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error.message)  # type: ignore[union-attr]
    first, detail = message.split("\n", 1)
    assert f"demo: registry 127.0.0.1:{port} (JH_REGISTRY) did not answer within 3s" in first
    assert "refused" in detail.lower()
