"""The server env request: the stack from the settings plus the common lists; its content key."""

from __future__ import annotations

from pathlib import Path

from jh_pipeline.catalog import load_catalog
from jh_pipeline.envs.resolve import SERVER_DIR, server_env_request
from jh_pipeline.hashing import server_env_key
from jh_pipeline.settings import ServerStack
from tests.catalog.conftest import BASE_CLASS, write_tree


def _common(tmp_path: Path, conda: str, pip: str = "") -> object:
    write_tree(tmp_path, {"requirements.txt": conda, "requirements.pip.txt": pip}, {"c1": dict(BASE_CLASS)})
    return load_catalog(tmp_path).common


def test_stack_plus_common_lists(tmp_path: Path) -> None:
    common = _common(tmp_path, "nbgitpuller\njupyterlab-git\nnotebook=7.*\n", "tabulate\n")
    request = server_env_request(common, ServerStack(), ("conda-forge",))
    assert request.folder == SERVER_DIR and request.python_version == "3.11"
    assert "jupyterhub-singleuser 6.1.*" in request.conda
    assert {"nbgitpuller", "jupyterlab-git"} <= {s.split()[0] for s in request.conda}
    # a common line naming a stack package does not fight the stack pin
    assert [s for s in request.conda if s.split()[0] == "notebook"] == ["notebook 7.6.*"]
    assert request.pip == ("tabulate",)
    assert "requirements.txt:1" in request.origins["nbgitpuller"]


def test_key_moves_with_the_stack_and_the_common_lists_only(tmp_path: Path) -> None:
    common = _common(tmp_path / "a", "nbgitpuller\n")
    key = server_env_key(common, ServerStack(), ("conda-forge",))
    assert key == server_env_key(_common(tmp_path / "b", "# plugins\nnbgitpuller   \n"), ServerStack(), ("conda-forge",))
    assert key != server_env_key(common, ServerStack(hub_version="5.3"), ("conda-forge",))
    assert key != server_env_key(_common(tmp_path / "c", "nbgitpuller\nnbdime\n"), ServerStack(), ("conda-forge",))
    assert key != server_env_key(common, ServerStack(), ("http://127.0.0.1:1/ch",))
