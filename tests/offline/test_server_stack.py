"""The hermetic channel carries the notebook server stack: solved with py-rattler, installed, run.

The server env of the images (JupyterLab, notebook, jupyter_server, jupyterhub-singleuser,
nbconvert, ipykernel, nbgitpuller, jupyter-server-proxy) and the `xeus-sqlite` stand-in of
class envs, installed from the channel into temporary prefixes over the host's Python 3.11.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import rattler
from rattler.platform import Subdir

from tests.support.channel import LocalChannel

SERVER_SPECS = (
    "python 3.11.*",
    "jupyterlab 4.6.*",
    "notebook 7.6.*",
    "jupyterhub-singleuser 6.1.*",
    "nbconvert >=7.16.5",
    "ipykernel",
    "nbgitpuller",
    "jupyter-server-proxy",
)
KERNEL_CLIENT = Path(__file__).with_name("kernel_client.py")


def _solve(channel: LocalChannel, specs: Sequence[str], cache: Path) -> list[rattler.RepoDataRecord]:
    return asyncio.run(
        rattler.solve(
            [rattler.Channel(channel.url)],
            list(specs),
            gateway=rattler.Gateway(cache_dir=cache / "repodata"),
            platforms=["linux-64", "noarch"],
        )
    )


def _install(records: list[rattler.RepoDataRecord], prefix: Path, cache: Path) -> None:
    asyncio.run(
        rattler.install(
            records,
            target_prefix=prefix,
            cache_dir=cache / "pkgs",
            platform=Subdir("linux-64"),
            show_progress=False,
            execute_link_scripts=False,
        )
    )


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # jupyter colours "enabled" even without a terminal


def _run(prefix: Path, *argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    # Only the env's and Debian's programs; a fresh HOME so no user config or kernels leak in.
    env = {"PATH": f"{prefix}/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "JUPYTER_PLATFORM_DIRS": "1"}
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def server_solution(local_channel: LocalChannel, rattler_cache: Path) -> dict[str, rattler.RepoDataRecord]:
    records = _solve(local_channel, SERVER_SPECS, rattler_cache)
    return {r.name.normalized: r for r in records}


@pytest.fixture(scope="module")
def server_prefix(
    server_solution: dict[str, rattler.RepoDataRecord], rattler_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    prefix = tmp_path_factory.mktemp("server-env") / "env"
    _install(list(server_solution.values()), prefix, rattler_cache)
    return prefix


@pytest.fixture(scope="module")
def sqlite_prefix(local_channel: LocalChannel, rattler_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class-like env with only python and xeus-sqlite (its dependencies must suffice)."""
    prefix = tmp_path_factory.mktemp("sqlite-env") / "env"
    _install(_solve(local_channel, ["python 3.11.*", "xeus-sqlite"], rattler_cache), prefix, rattler_cache)
    return prefix


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_server_stack_solves_at_the_pinned_versions(server_solution: dict[str, rattler.RepoDataRecord]) -> None:
    versions = {name: str(record.version) for name, record in server_solution.items()}
    assert {
        name: versions.get(name)
        for name in ("jupyterlab", "notebook", "jupyter-server", "jupyterhub", "jupyterhub-singleuser", "nbconvert",
                     "nbgitpuller", "jupyter-server-proxy", "ipykernel")
    } == {
        "jupyterlab": "4.6.6", "notebook": "7.6.5", "jupyter-server": "2.21.1", "jupyterhub": "6.1.1",
        "jupyterhub-singleuser": "6.1.1", "nbconvert": "7.17.2", "nbgitpuller": "1.3.0",
        "jupyter-server-proxy": "4.6.0", "ipykernel": "6.29.5",
    }
    assert versions["python"].startswith("3.11.")
    # Compiled dependencies come as linux-64 packages for the host's Python.
    for name in ("pyzmq", "tornado", "sqlalchemy", "pyyaml", "markupsafe", "rpds-py", "cffi", "argon2-cffi-bindings", "psutil"):
        assert server_solution[name].subdir == "linux-64", name


def test_singleuser_spec_resolves_to_the_metapackage(local_channel: LocalChannel, rattler_cache: Path) -> None:
    records = {r.name.normalized: r for r in _solve(local_channel, ["jupyterhub-singleuser 6.1.*"], rattler_cache)}
    meta = records["jupyterhub-singleuser"]
    assert (str(meta.version), meta.subdir, meta.noarch.generic) == ("6.1.1", "noarch", True)
    assert "jupyterhub ==6.1.1" in meta.depends
    assert str(records["jupyterhub"].version) == "6.1.1"
    assert "jupyter-server" in records  # what the single-user server runs on


def test_server_extensions_are_enabled(server_prefix: Path, home: Path) -> None:
    proc = _run(server_prefix, str(server_prefix / "bin/jupyter"), "server", "extension", "list", home=home)
    assert proc.returncode == 0, proc.stderr
    lines = [_plain(line).strip() for line in (proc.stdout + proc.stderr).splitlines()]  # the list is on stderr
    # Enabled by the env's own etc/jupyter/jupyter_server_config.d (the wheels' data files).
    assert f"Config dir: {server_prefix}/etc/jupyter" in lines
    for extension in ("jupyter_server_proxy", "nbgitpuller", "jupyterlab", "notebook", "jupyter_lsp",
                      "jupyter_server_terminals", "notebook_shim"):
        assert f"{extension} enabled" in lines, (extension, lines)
        assert any(re.fullmatch(rf"{extension} \S* *OK", line) for line in lines), (extension, lines)
    assert not any("disabled" in line or "Traceback" in line for line in lines), lines


def test_lab_extension_of_the_proxy_is_listed(server_prefix: Path, home: Path) -> None:
    proc = _run(server_prefix, str(server_prefix / "bin/jupyter"), "labextension", "list", home=home)
    assert proc.returncode == 0, proc.stderr
    lines = [_plain(line).strip() for line in (proc.stdout + proc.stderr).splitlines()]
    assert f"{server_prefix}/share/jupyter/labextensions" in lines
    assert "@jupyterhub/jupyter-server-proxy v4.6.0 enabled OK" in lines, lines
    assert "@jupyter-notebook/lab-extension v7.6.5 enabled OK" in lines, lines


def test_singleuser_version(server_prefix: Path, home: Path) -> None:
    proc = _run(server_prefix, str(server_prefix / "bin/jupyterhub-singleuser"), "--version", home=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "6.1.1"


def test_lab_and_nbconvert_run(server_prefix: Path, home: Path) -> None:
    proc = _run(server_prefix, str(server_prefix / "bin/jupyter-lab"), "--version", home=home)
    assert (proc.returncode, proc.stdout.strip()) == (0, "4.6.6"), proc.stderr
    proc = _run(server_prefix, str(server_prefix / "bin/jupyter-nbconvert"), "--version", home=home)
    assert (proc.returncode, proc.stdout.strip()) == (0, "7.17.2"), proc.stderr
    # The env's python is the venv over the host interpreter, with the compiled packages importable.
    proc = _run(server_prefix, str(server_prefix / "bin/python"), "-c",
                "import sys, zmq, sqlalchemy, yaml, rpds, argon2, psutil, aiohttp; print(sys.prefix)", home=home)
    assert (proc.returncode, proc.stdout.strip()) == (0, str(server_prefix)), proc.stderr


def test_compiled_console_scripts_run(server_prefix: Path, home: Path) -> None:
    # A compiled wheel's entry point: a bin/ script whose shebang py-rattler pointed at the env.
    script = server_prefix / "bin/normalizer"
    assert script.read_text().splitlines()[0] == f"#!{server_prefix}/bin/python"
    proc = _run(server_prefix, str(script), "--version", home=home)
    assert proc.returncode == 0 and "Charset-Normalizer" in proc.stdout + proc.stderr, proc.stderr


def test_xsqlite_kernelspec_points_at_the_env(sqlite_prefix: Path) -> None:
    spec = json.loads((sqlite_prefix / "share/jupyter/kernels/xsqlite/kernel.json").read_text())
    assert spec["argv"][:3] == [f"{sqlite_prefix}/bin/python", "-m", "xsqlite_kernel"]
    assert (spec["display_name"], spec["language"]) == ("SQLite", "sql")


def test_xsqlite_kernel_runs_sql(sqlite_prefix: Path, tmp_path: Path) -> None:
    db = tmp_path / "course.db"
    cells = [
        "SELECT 6*7",
        "CREATE TABLE t (x TEXT);\nINSERT INTO t VALUES ('a;b'), (NULL);\nSELECT x AS value FROM t ORDER BY x",
        "SELECT * FROM nowhere",
        f"%file {db}\nCREATE TABLE kept (n INTEGER); INSERT INTO kept VALUES (7);",
    ]
    proc = _run(sqlite_prefix, str(sqlite_prefix / "bin/python"), str(KERNEL_CLIENT), "xsqlite", *cells, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["resource_dir"] == f"{sqlite_prefix}/share/jupyter/kernels/xsqlite"
    answer, table, missing, saved = out["results"]
    assert answer["status"] == "ok"
    (result,) = answer["outputs"]
    assert result["type"] == "execute_result" and result["data"]["text/plain"].splitlines() == ["6*7", "42"]
    assert table["outputs"][0]["data"]["text/plain"].splitlines() == ["value", "NULL", "a;b"]
    assert missing["status"] == "error" and "no such table" in missing["outputs"][0]["evalue"]
    assert saved["status"] == "ok" and saved["outputs"] == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]

