"""Hermetic end to end of a class with `mysql: true` through Dagster: the image has MariaDB and a
Python client, and its blocking check starts the server in a container and round-trips a row.
"""

from __future__ import annotations

from typing import Any

import docker
import pytest

from tests.defs.e2e import check, make_e2e, metadata, run_class
from tests.support.common import SEMESTER
from tests.support.docker import free_port

pytestmark = pytest.mark.docker


def test_mysql_class_builds_and_its_server_round_trips_a_row(
    tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str,
) -> None:
    class_yaml = f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\nmysql: true\n'
    e2e = make_e2e(tmp_path_factory.mktemp("mysql-e2e"),
                   {"sqldemo": {"class.yaml": class_yaml, "requirements.txt": "ipykernel\npymysql\n"}},
                   channel_url=local_channel.url, registry=registry, foundation_image=foundation_image)
    result = run_class(e2e, "sqldemo", ("conda_env", "image"))
    assert result.success
    smoke = check(result, "smoke_tests")
    assert smoke.passed, smoke.metadata
    meta = {k: v.value for k, v in smoke.metadata.items()}
    assert meta["mysql_roundtrip"].startswith("ok: pymysql wrote and read a row on 127.0.0.1:"), meta
    assert "ir_kernelspec" not in meta  # a base class gets no R checks

    ref = metadata(result, "sqldemo/image")["ref"]
    # The server runs as the notebook user with its data in the home directory.
    out = docker.from_env().containers.run(
        ref, ["bash", "-c", f"MYSQL_PORT={free_port()} start-mysql.sh >/dev/null && mariadb -N -e 'SELECT CURRENT_USER()' "
              "&& ls -d ~/.mysql/data/mysql && start-mysql.sh stop"],
        network_mode="host", remove=True,
    )
    assert out.decode().split() == ["root@localhost", "/home/jovyan/.mysql/data/mysql", "MariaDB", "stopped"]
