"""Hermetic end to end of a class with `mysql: true` through Dagster: the image has MariaDB and a
Python client, and its blocking check starts the server in a container and round-trips a row.
"""

from __future__ import annotations

import dagster as dg
import docker
import pytest

from tests.defs.e2e import check, metadata
from tests.support.docker import free_port

pytestmark = pytest.mark.docker


def test_mysql_class_builds_and_its_server_round_trips_a_row(sql_demo_build: dg.ExecuteInProcessResult) -> None:
    result = sql_demo_build  # tests/support/pipeline.py (the hub test spawns its image too)
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
