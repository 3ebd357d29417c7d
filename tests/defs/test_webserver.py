"""The real Dagster UI loads the code location: every seeded class has its assets in its GraphQL API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from jh_pipeline.catalog import Target, load_catalog
from tests.support.common import free_port

REPO = Path(__file__).resolve().parents[2]
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
STARTUP_SECONDS = 90  # a deadline, not a speed check: a loaded 2-core runner is slow to start it
SEEDED_JULIA = {"ccv_bootcamp", "mpa2065", "php2650"}
ASSET_NODES = "{ assetNodes { assetKey { path } groupName } }"


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", json.dumps({"query": query}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert not body.get("errors"), body["errors"]
    return body["data"]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the webserver (it stops its code server), SIGKILL its process group if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group we created: the webserver and its children
            proc.wait(timeout=10)


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if k != "JH_REQUIREMENTS_DIR"}
    env.update(DAGSTER_HOME=str(home), JH_REPO_ROOT=str(REPO))  # the seeded tree, whatever the caller set
    port = free_port()
    log = (tmp_path / "webserver.log").open("wb")
    proc = subprocess.Popen(
        [str(WEBSERVER), "-m", "jh_pipeline.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dagster-webserver exited {proc.returncode}:\n{(tmp_path / 'webserver.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"dagster-webserver did not answer within {STARTUP_SECONDS}s")
                time.sleep(0.3)
        yield base
    finally:
        stop(proc)
        log.close()


def test_every_class_has_its_assets_in_the_ui(webserver: str) -> None:
    catalog = load_catalog(REPO / "requirements")
    assert len(catalog.classes) == 10
    julia = {key for key, spec in catalog.classes.items() if spec.config and spec.config.target is Target.R_JULIA}
    assert julia == SEEDED_JULIA

    nodes = graphql(webserver, ASSET_NODES)["assetNodes"]
    keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
    assert "common/requirements" in keys
    for name in catalog.classes:
        expected = {"requirements", "conda_env", "image", "release", "production"} | ({"julia_env"} if name in julia else set())
        present = {key.split("/", 1)[1] for key in keys if key.startswith(f"{name}/")}
        assert present == expected, f"{name}: UI shows {sorted(present)}, expected {sorted(expected)}"
    assert {"common/server_env", "common/server_image"} <= keys
    # one labelled group per class, and the shared assets in `common`
    groups = {"/".join(node["assetKey"]["path"]): node["groupName"] for node in nodes}
    assert {groups[k] for k in keys if k.startswith("common/")} == {"common"}
    for name in catalog.classes:
        assert {groups[k] for k in keys if k.startswith(f"{name}/")} == {f"classes/{name}"}

    location = graphql(webserver, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
    assert [e["loadStatus"] for e in location["workspaceOrError"]["locationEntries"]] == ["LOADED"]
