"""Hermetic end to end of a class with `mysql: true` through Dagster: the image has MariaDB and a
Python client, and its blocking check starts the server in a container and round-trips a row.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import docker
import pytest

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import EndpointsResource
from jh_pipeline.definitions import build_definitions
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.store.resource import ArtifactStoreResource
from tests.catalog.conftest import write_tree
from tests.defs.e2e import metadata, run_class
from tests.defs.conftest import copy_inputs
from tests.support.docker import free_port

SEMESTER = "fall-2026"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
pytestmark = pytest.mark.docker


def test_mysql_class_builds_and_its_server_round_trips_a_row(
    tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str,
) -> None:
    root = tmp_path_factory.mktemp("mysql-e2e")
    repo = copy_inputs(root / "repo")
    (repo / "requirements").rename(root / "seeded")
    class_yaml = f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\nmysql: true\n'
    write_tree(repo / "requirements", {"requirements.txt": "six\n"},
               {"sqldemo": {"class.yaml": class_yaml, "requirements.txt": "ipykernel\npymysql\n"}})
    resources = {
        "store": ArtifactStoreResource(local_root=str(root / "store")),
        "endpoints": EndpointsResource(base_image=foundation_image, extra_ca_bundle=HOST_CA),
        "docker": DockerResource(registry=registry),
    }
    defs = build_definitions(PipelineContext(repo, channel_map={"conda-forge": local_channel.url}))
    result = dg.materialize(
        list(defs.assets or []), instance=dg.DagsterInstance.ephemeral(), resources=resources,
        selection=dg.AssetSelection.assets(*(dg.AssetKey(["sqldemo", n]) for n in ("conda_env", "image"))),
        raise_on_error=False,
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    meta = {k: v.value for k, v in check.metadata.items()}
    assert meta["mysql_roundtrip"].startswith("ok: pymysql wrote and read a row on 127.0.0.1:"), meta
    assert "ir_kernelspec" not in meta  # a base class gets no R checks

    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "sqldemo/image"]
    ref = event.materialization.metadata["ref"].value
    # The server runs as the notebook user with its data in the home directory.
    out = docker.from_env().containers.run(
        ref, ["bash", "-c", f"MYSQL_PORT={free_port()} start-mysql.sh >/dev/null && mariadb -N -e 'SELECT CURRENT_USER()' "
              "&& ls -d ~/.mysql/data/mysql && start-mysql.sh stop"],
        network_mode="host", remove=True,
    )
    assert out.decode().split() == ["root@localhost", "/home/jovyan/.mysql/data/mysql", "MariaDB", "stopped"]
