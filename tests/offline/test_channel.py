"""The hermetic conda channel: real packages, indexed, served over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import tarfile
import urllib.request
from pathlib import Path

import pytest

from jh_pipeline.offline import channel as ch
from tests.support.channel import LocalChannel


def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def _read(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


def _info_json(archive: Path, name: str) -> dict:
    return json.loads(_read(archive, f"info/{name}"))


def _archive(local_channel: LocalChannel, subdir: str, prefix: str) -> Path:
    (found,) = sorted((local_channel.path / subdir).glob(f"{prefix}*.tar.bz2"))[-1:]
    return found


def test_repodata_served_over_http(local_channel: LocalChannel) -> None:
    assert local_channel.url.startswith("http://127.0.0.1:")
    seen: dict[str, set[str]] = {}
    for subdir in ("linux-64", "noarch"):
        with urllib.request.urlopen(f"{local_channel.url}/{subdir}/repodata.json", timeout=5) as resp:
            repodata = json.load(resp)
        for record in repodata["packages"].values():
            assert record["md5"] and record["sha256"]
            seen.setdefault(record["name"], set()).add(record["version"])
    assert {name: tuple(sorted(v)) for name, v in seen.items()} == {
        name: tuple(sorted(v)) for name, v in local_channel.packages.items()
    }
    assert {"python", "pip", "six", "packaging", "idna", "attrs", "tabulate", "toolz"} <= set(seen)


def test_r_base_stand_in_points_at_debian_r(local_channel: LocalChannel) -> None:
    assert local_channel.packages["r-base"] == (ch.DEFAULT_R_VERSION,)
    archive = _archive(local_channel, "linux-64", "r-base-")
    members = _members(archive)
    assert members["bin/R"].issym() and members["bin/R"].linkname == "/usr/bin/R"
    assert members["bin/Rscript"].issym() and members["bin/Rscript"].linkname == "/usr/bin/Rscript"
    index = _info_json(archive, "index.json")
    assert (index["name"], index["subdir"], index["depends"]) == ("r-base", "linux-64", [])


def test_mysql_client_is_in_the_channel(local_channel: LocalChannel) -> None:
    assert "pymysql" in local_channel.packages
    assert any(p.name.startswith("pymysql-") for p in (local_channel.path / "noarch").glob("*.tar.bz2"))


def test_python_package_makes_a_venv(local_channel: LocalChannel) -> None:
    archive = _archive(local_channel, "linux-64", "python-")
    members = _members(archive)
    exe = "bin/python3.11"
    assert members[exe].issym() and members[exe].linkname == "/usr/bin/python3.11"
    assert members["bin/python"].linkname == "python3.11"
    assert members["bin/python3"].linkname == "python3.11"
    cfg = _read(archive, "pyvenv.cfg").decode()
    assert "home = /usr/bin" in cfg and "include-system-site-packages = false" in cfg

    index = _info_json(archive, "index.json")
    assert (index["name"], index["subdir"], index["version"]) == ("python", "linux-64", local_channel.python_version)
    paths = {p["_path"]: p for p in _info_json(archive, "paths.json")["paths"]}
    assert paths[exe]["path_type"] == "softlink"
    assert paths["pyvenv.cfg"]["path_type"] == "hardlink" and len(paths["pyvenv.cfg"]["sha256"]) == 64
    assert _read(archive, "info/files").decode().split() == sorted(paths)


def test_converted_wheel_is_noarch_python(local_channel: LocalChannel) -> None:
    archive = _archive(local_channel, "noarch", "six-1.16.0")
    index = _info_json(archive, "index.json")
    assert index["noarch"] == "python" and index["subdir"] == "noarch"
    assert any(dep.startswith("python ") and ">=2.7" in dep for dep in index["depends"])
    paths = {p["_path"] for p in _info_json(archive, "paths.json")["paths"]}
    assert "site-packages/six.py" in paths
    assert "site-packages/six-1.16.0.dist-info/INSTALLER" in paths
    assert set(_read(archive, "info/files").decode().split()) == paths
    assert _info_json(archive, "link.json")["noarch"]["type"] == "python"


def test_pip_entry_points(local_channel: LocalChannel) -> None:
    link = _info_json(_archive(local_channel, "noarch", "pip-"), "link.json")
    names = {point.split("=")[0].strip() for point in link["noarch"]["entry_points"]}
    assert {"pip", "pip3"} <= names
    assert all(name in ("pip", "pip3", "pip3.11") for name in names)  # no pip3.10 from the wheel's build


def test_conversion_is_deterministic(local_channel: LocalChannel, tmp_path: Path) -> None:
    wheels = ch.offline_cache_dir() / "wheels"
    wheel = next(wheels.glob("six-1.16.0-*.whl"))
    first = ch.wheel_to_conda(wheel, tmp_path / "a", local_channel.python_version)
    second = ch.wheel_to_conda(wheel, tmp_path / "b", local_channel.python_version)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == _archive(local_channel, "noarch", "six-1.16.0").read_bytes()


def test_cached_wheel_needs_no_download(local_channel: LocalChannel, tmp_path: Path) -> None:
    wheel = next((ch.offline_cache_dir() / "wheels").glob("six-1.16.0-*.whl"))
    shutil.copy(wheel, tmp_path / wheel.name)
    assert ch.download_wheel("six==1.16.0", tmp_path) == tmp_path / wheel.name
    assert ch.download_wheel("six>=1.10", tmp_path) == tmp_path / wheel.name


def test_wheel_for_another_interpreter_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "pyyaml-6.0.1-cp310-cp310-manylinux_2_17_x86_64.whl"
    fake.write_bytes(b"")
    with pytest.raises(ValueError, match="neither pure Python nor a cp311 x86_64 wheel"):
        ch.wheel_to_conda(fake, tmp_path / "out", "3.11.2")


def test_compiled_wheels_become_linux_64_packages(local_channel) -> None:  # type: ignore[no-untyped-def]
    # ipykernel's compiled dependencies: real site-packages paths, pinned to the interpreter's minor.
    linux = sorted(p.name for p in (local_channel.path / "linux-64").glob("*.tar.bz2"))
    assert any(name.startswith("pyzmq-") and name.endswith("-py311hjh_0.tar.bz2") for name in linux)
    assert any(name.startswith("tornado-") for name in linux)
    assert "ipykernel" in local_channel.packages


@pytest.mark.parametrize(
    ("pep440", "conda"),
    [("", ""), (">=3.7", ">=3.7"), (">=2.7, !=3.0.*", "!=3.0.*,>=2.7"), ("~=1.4", "~=1.4"), ("===1.0", "==1.0")],
)
def test_pep440_to_conda(pep440: str, conda: str) -> None:
    assert ch.pep440_to_conda(pep440) == conda


def test_conda_depends_evaluates_markers_and_extras() -> None:
    meta = ch.WheelMetadata(
        name="demo",
        version="1.0",
        requires_python=">=3.8",
        requires_dist=(
            "typing_extensions>=4; python_version < '3.12'",
            "tomli; python_version < '3.11'",
            "Pywin32; sys_platform == 'win32'",
            "pytest; extra == 'test'",
            "Six>=1.5",
        ),
        summary="",
        license="",
    )
    assert ch.conda_depends(meta, "3.11.2") == ["python >=3.8", "six >=1.5", "typing-extensions >=4"]


def test_serve_refuses_non_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ch.serve_directory(tmp_path, host="0.0.0.0")
