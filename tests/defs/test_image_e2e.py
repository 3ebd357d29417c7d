"""Hermetic end to end through Dagster: env files -> image build -> smoke checks -> push -> release.

Real Docker engine (host networking), real registry, local conda channel, foundation base image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import docker
import pytest

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import EndpointsResource
from jh_pipeline.definitions import build_definitions
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.store import LocalStore
from jh_pipeline.store.resource import ArtifactStoreResource
from tests.catalog.conftest import write_tree
from tests.defs.e2e import metadata, run_class
from tests.defs.conftest import copy_inputs

SEMESTER = "fall-2026"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
pytestmark = pytest.mark.docker


def _class(budget: str | None = None) -> dict[str, str]:
    yaml = f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\ndisplay_name: "Demo class"\n'
    if budget:
        yaml += f"image_size_budget: {budget}\n"
    return {"class.yaml": yaml, "requirements.txt": "ipykernel\nattrs\n", "requirements.pip.txt": "tabulate==0.9.0\n"}


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("e2e")
    repo = copy_inputs(root / "repo")
    (repo / "requirements").rename(root / "seeded")  # only the e2e classes below
    write_tree(repo / "requirements", {"requirements.txt": "six\n"}, {"demo": _class(), "tiny": _class("1MB")})
    resources = {
        "store": ArtifactStoreResource(local_root=str(root / "store")),
        "endpoints": EndpointsResource(base_image=foundation_image, extra_ca_bundle=HOST_CA),
        "docker": DockerResource(registry=registry),
    }
    defs = build_definitions(PipelineContext(repo, channel_map={"conda-forge": local_channel.url}))
    return {"defs": defs, "resources": resources, "store": LocalStore(root / "store"), "registry": registry}






def test_base_class_builds_checks_pushes_and_releases(e2e: dict[str, Any]) -> None:
    result = run_class(e2e, "demo")
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    assert {"packages_import", "kernelspec", "notebook_executes", "jupyter_server_answers", "runs_as_uid_1000",
            "no_leftover_cache", "jupyterhub_singleuser", "size_budget"} <= set(check.metadata)

    image = metadata(result, "demo/image")
    assert image["pushed"] is True and image["digest"].startswith("sha256:")
    assert image["layers"] > 3 and image["size_mb"] > 100
    ref = image["ref"]

    client = docker.from_env()
    client.images.remove(ref, force=True)  # pull it back from the registry
    client.images.pull(ref.rsplit(":", 1)[0], tag=ref.rsplit(":", 1)[1])
    out = client.containers.run(ref, ["/opt/envs/demo/bin/python", "-c", "import tabulate, attrs, six; print('ok')"],
                                network_mode="host", remove=True)
    assert out.decode().strip() == "ok"

    release = metadata(result, "demo/release")
    repository = ref.rsplit(":", 1)[0]
    assert f"{repository}:latest" in release["tags"] and f"{repository}:{SEMESTER}" in release["tags"]
    latest = e2e["store"].read_latest_manifest(SEMESTER, "demo")
    assert latest is not None and latest.set_id == image["image_tag"]
    assert "conda/conda-linux-64.lock" in latest.files
    index = e2e["store"].read_bytes(f"{SEMESTER}/index.html").decode()  # the student index
    assert "demo/latest/conda/environment.yml" in index and f"{repository}:latest" in index

    again = run_class(e2e, "demo")  # fresh instance, nothing changed: no solve, no build, no retag
    assert again.success
    assert metadata(again, "demo/conda_env")["skipped"] is True
    assert metadata(again, "demo/image")["skipped"] is True
    assert metadata(again, "demo/release")["skipped"] is True


def test_failing_smoke_check_blocks_the_release(e2e: dict[str, Any]) -> None:
    result = run_class(e2e, "tiny")  # a 1 MB budget no image meets
    assert not result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    assert "size_budget" in (check.description or "")
    assert metadata(result, "tiny/image")["pushed"] is False
    assert metadata(result, "tiny/release") == {}
    assert e2e["store"].read_latest_manifest(SEMESTER, "tiny") is None
    assert not DockerResource(registry=e2e["registry"]).tag_exists(f"{e2e['registry']}/tiny:latest")


def test_image_runs_locally_with_the_readme_command(e2e: dict[str, Any]) -> None:
    """README: `docker run ... <image> start-notebook.sh --ip ...` starts JupyterLab (host networking here)."""
    import socket
    import time
    import urllib.request

    ref = f"{e2e['registry']}/demo:latest"
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
