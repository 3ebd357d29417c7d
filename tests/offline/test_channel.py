"""The hermetic conda channel: real packages, indexed, served over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from jh_pipeline.offline import channel as ch
from tests.support.channel import LocalChannel


def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def _read(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        # Stream up to the member: info/ comes first, so metadata reads stay cheap for big packages.
        while (member := tar.next()) is not None:
            if member.name == name:
                data = tar.extractfile(member)
                assert data is not None
                return data.read()
    raise KeyError(f"{archive.name}: no {name}")


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
    assert "home = /usr/bin" in cfg and "include-system-site-packages = true" in cfg  # user site, as conda Pythons

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


# --------------------------------------------------------------------------- server stack, stand-ins


def _paths(archive: Path) -> dict[str, dict]:
    return {p["_path"]: p for p in _info_json(archive, "paths.json")["paths"]}


def test_server_stack_is_in_the_channel(local_channel: LocalChannel) -> None:
    pinned = dict(r.split("==") for r in ch.SERVER_STACK_WHEELS)
    assert {name: local_channel.packages.get(name) for name in pinned} == {name: (v,) for name, v in pinned.items()}
    assert local_channel.packages["jupyterhub-singleuser"] == local_channel.packages["jupyterhub"] == ("6.1.1",)
    assert local_channel.packages["xeus-sqlite"] == (ch.XEUS_SQLITE_VERSION,)
    # Compiled dependencies are linux-64 packages for the wrapped interpreter's minor version.
    linux = {p.name.split("-py311")[0].rsplit("-", 1)[0] for p in (local_channel.path / "linux-64").glob("*-py311hjh*.tar.bz2")}
    assert {"sqlalchemy", "pyyaml", "markupsafe", "rpds-py", "cffi", "argon2-cffi-bindings", "psutil"} <= linux


def test_archives_put_info_first(local_channel: LocalChannel) -> None:
    # Indexers then read the metadata without decompressing the whole archive.
    with tarfile.open(_archive(local_channel, "noarch", "jupyterlab-4")) as tar:
        first = [tar.next() for _ in range(3)]
    assert all(m is not None and m.name.startswith("info/") for m in first)


def test_wheel_data_files_land_at_prefix_paths(local_channel: LocalChannel) -> None:
    paths = _paths(_archive(local_channel, "noarch", "jupyter-server-proxy-"))
    assert "etc/jupyter/jupyter_server_config.d/jupyter-server-proxy.json" in paths
    assert "share/jupyter/labextensions/@jupyterhub/jupyter-server-proxy/package.json" in paths
    assert "site-packages/jupyter_server_proxy/__init__.py" in paths
    assert "etc/jupyter/jupyter_server_config.d/jupyterlab.json" in _paths(_archive(local_channel, "noarch", "jupyterlab-4"))


def test_extras_of_dependencies_become_dependencies(local_channel: LocalChannel) -> None:
    # jupyter_events needs jsonschema[format-nongpl], nbconvert needs bleach[css]; conda has no extras.
    events = _info_json(_archive(local_channel, "noarch", "jupyter-events-"), "index.json")
    names = {d.split()[0] for d in events["depends"]}
    assert {"jsonschema", "fqdn", "isoduration", "rfc3339-validator", "uri-template", "webcolors"} <= names
    assert re.fullmatch(r"pyhjh[0-9a-f]{8}_0", events["build"])  # what the extras add keys the cache
    nbconvert = _info_json(_archive(local_channel, "noarch", "nbconvert-"), "index.json")
    assert "tinycss2" in {d.split()[0] for d in nbconvert["depends"]}


def test_wheel_scripts_get_the_env_python(local_channel: LocalChannel) -> None:
    archive = _archive(local_channel, "noarch", "jsonpointer-")
    script = _read(archive, "python-scripts/jsonpointer")
    assert script.startswith(b"#!/opt/anaconda1anaconda2anaconda3/bin/python\n")
    record = _paths(archive)["python-scripts/jsonpointer"]
    assert (record["prefix_placeholder"], record["file_mode"]) == (ch.PREFIX_PLACEHOLDER, "text")


def test_compiled_wheels_get_console_scripts(local_channel: LocalChannel) -> None:
    archive = _archive(local_channel, "linux-64", "charset-normalizer-")
    members = _members(archive)
    assert members["bin/normalizer"].mode == 0o755
    script = _read(archive, "bin/normalizer").decode()
    assert script.startswith(f"#!{ch.PREFIX_PLACEHOLDER}/bin/python\n")
    assert "from charset_normalizer.cli import cli_detect" in script and "sys.exit(cli_detect())" in script
    assert _paths(archive)["bin/normalizer"]["file_mode"] == "text"
    assert _read(archive, "info/has_prefix").decode() == f"{ch.PREFIX_PLACEHOLDER} text bin/normalizer\n"
    assert any(p.startswith("lib/python3.11/site-packages/charset_normalizer/") for p in _paths(archive))


def test_entry_point_script_of_a_method() -> None:
    script = ch.entry_point_script("pkg.cli:App.launch [extra]").decode()
    assert "from pkg.cli import App\n" in script and "sys.exit(App.launch())" in script


def test_singleuser_metapackage(local_channel: LocalChannel) -> None:
    archive = _archive(local_channel, "noarch", "jupyterhub-singleuser-")
    index = _info_json(archive, "index.json")
    assert (index["name"], index["version"], index["noarch"], index["subdir"]) == (
        "jupyterhub-singleuser", "6.1.1", "generic", "noarch")
    assert "jupyterhub ==6.1.1" in index["depends"]
    assert _info_json(archive, "paths.json")["paths"] == []


def test_xeus_sqlite_stand_in(local_channel: LocalChannel, tmp_path: Path) -> None:
    archive = _archive(local_channel, "noarch", "xeus-sqlite-")
    index = _info_json(archive, "index.json")
    assert (index["noarch"], index["subdir"]) == ("python", "noarch")
    assert {d.split()[0] for d in index["depends"]} == {"ipykernel", "python"}
    spec = json.loads(_read(archive, "share/jupyter/kernels/xsqlite/kernel.json"))
    assert spec["argv"] == [f"{ch.PREFIX_PLACEHOLDER}/bin/python", "-m", "xsqlite_kernel", "-f", "{connection_file}"]
    assert (spec["display_name"], spec["language"]) == ("SQLite", "sql")
    record = _paths(archive)["share/jupyter/kernels/xsqlite/kernel.json"]
    assert (record["prefix_placeholder"], record["file_mode"]) == (ch.PREFIX_PLACEHOLDER, "text")
    kernel_code = (Path(ch.__file__).parent / "sqlite_kernel.py").read_bytes()
    assert _read(archive, "site-packages/xsqlite_kernel.py") == kernel_code
    # Rebuilt every time (the kernel lives in this repository), byte for byte the same.
    assert ch.build_xeus_sqlite_package(tmp_path).read_bytes() == archive.read_bytes()


# --------------------------------------------------------------------------- resolving (no network)


def _fake_wheel(directory: Path, name: str, version: str, *requires: str, requires_python: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-py3-none-any.whl"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Python: {requires_python}"] if requires_python else []
    lines += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(lines) + "\n")
        wheel.writestr(f"{name}/__init__.py", "")
    return path


def test_cached_wheel_must_fit_the_wrapped_python(tmp_path: Path) -> None:
    old = _fake_wheel(tmp_path, "demo", "1.0", requires_python=">=3.8")
    _fake_wheel(tmp_path, "demo", "2.0", requires_python=">=3.11.5")
    assert ch.download_wheel("demo>=1", tmp_path, "3.11.2") == old
    assert ch.download_wheel("demo>=1", tmp_path, "3.11.9").name == "demo-2.0-py3-none-any.whl"


def test_resolve_follows_pins_extras_and_markers(tmp_path: Path) -> None:
    for wheel in [
        ("app", "1.0", "lib[fast]>=1", "winonly; sys_platform == 'win32'", "devtool; extra == 'dev'"),
        ("lib", "1.0", "helper[x]; extra == 'fast'"),
        ("lib", "2.0", "helper[x]; extra == 'fast'"),
        ("helper", "3.0", "xdep; extra == 'x'"),
        ("xdep", "1.0"),
    ]:
        _fake_wheel(tmp_path, *wheel)
    wheels = ch.resolve_wheels(["app==1.0"], tmp_path, "3.11.2", pins={"lib": "1.0"})
    assert sorted((w.meta.name, w.meta.version) for w in wheels) == [
        ("app", "1.0"), ("helper", "3.0"), ("lib", "1.0"), ("xdep", "1.0")]
    app = next(w for w in wheels if w.meta.name == "app")
    # What lib[fast] adds, and what helper[x] in there adds in turn, become app's dependencies.
    assert ch.extra_depends(app.meta, wheels, "3.11.2") == ["helper", "xdep"]
    assert ch.conda_depends(app.meta, "3.11.2", ["helper"]) == ["helper", "lib >=1", "python"]
    # A pin its requirement excludes gives way to the newest fitting wheel.
    wheels = ch.resolve_wheels(["lib>=2"], tmp_path, "3.11.2", pins={"lib": "1.0"})
    assert ("lib", "2.0") in {(w.meta.name, w.meta.version) for w in wheels}
