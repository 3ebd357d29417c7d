"""Solve, lock, render and install against the served local channel (no mocks)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rattler.explicit_environment import ExplicitEnvironmentSpec

from jh_pipeline.envs import conda
from jh_pipeline.envs.conda import (
    InvalidSpecError,
    Solution,
    UnsatisfiableError,
    check_platform,
    lock_hash,
    render_environment_nb_yml,
    render_environment_yml,
    render_explicit_lock,
    render_packages_txt,
    solve_lock,
    write_env_files,
)
from tests.support.channel import LocalChannel

SPECS = ["six", "packaging", "idna", "attrs", "tabulate", "toolz"]
IMPORTS = "six, packaging, idna, attrs, tabulate, toolz"


@pytest.fixture(scope="module")
def solution(local_channel: LocalChannel, rattler_cache: Path) -> Solution:
    return solve_lock(SPECS, [local_channel.url], "3.11", cache_dir=rattler_cache / "repodata")


@pytest.fixture(scope="module")
def env_files(solution: Solution, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_env_files(solution, tmp_path_factory.mktemp("envfiles"), "demo", ["requests==2.31.0"])


def _names(solution: Solution) -> set[str]:
    return {r.name.normalized for r in solution.records}


def test_solution_holds_specs_python_and_pip(solution: Solution, local_channel: LocalChannel) -> None:
    assert set(SPECS) | {"python", "pip"} == _names(solution)
    python = next(r for r in solution.records if r.name.normalized == "python")
    assert str(python.version) == local_channel.python_version
    assert solution.records[0].name.normalized == "python"  # install order: python first
    assert solution.specs[-1] == "python=3.11"
    assert solution.platform == "linux-64"
    assert "__glibc=2.35=0" in solution.virtual_packages


def test_highest_version_unless_pinned(local_channel: LocalChannel, rattler_cache: Path) -> None:
    cache = rattler_cache / "repodata"
    latest = solve_lock(["six"], [local_channel.url], "3.11", cache_dir=cache)
    pinned = solve_lock(["six=1.16"], [local_channel.url], "3.11", cache_dir=cache)
    exact_python = solve_lock(["six"], [local_channel.url], local_channel.python_version, cache_dir=cache)

    def six(s: Solution) -> str:
        return next(str(r.version) for r in s.records if r.name.normalized == "six")

    assert six(latest) == max(local_channel.packages["six"], key=lambda v: tuple(map(int, v.split("."))))
    assert six(pinned) == "1.16.0"
    assert exact_python.specs[-1] == f"python=={local_channel.python_version}"


def test_channel_name_resolves_against_the_alias(local_channel: LocalChannel, rattler_cache: Path) -> None:
    solved = solve_lock(
        ["six"], [local_channel.name], "3.11", cache_dir=rattler_cache / "repodata", alias=local_channel.alias
    )
    assert solved.channels == (local_channel.name,)
    assert solved.channel_urls == (local_channel.url + "/",)
    assert all(r.url.startswith(local_channel.url + "/") for r in solved.records)


# The image's installer, run here the way the Dockerfile runs it (a script of the build context).
INSTALLER = Path(__file__).resolve().parents[2] / "jh_pipeline" / "images" / "scripts" / "install-conda-lock.py"


def install_lock(lock: Path, prefix: Path, cache_dir: Path) -> list[str]:
    """Run install-conda-lock.py; return the `name version build` lines it reports."""
    out = subprocess.run([sys.executable, str(INSTALLER), str(lock), str(prefix), "--cache-dir", str(cache_dir)],
                         check=True, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.startswith("  ")]


def test_install_lock_makes_a_working_env(env_files: dict[str, Path], solution: Solution, tmp_path: Path, rattler_cache: Path) -> None:
    prefix = tmp_path / "env"
    installed = install_lock(env_files["conda-lock.yml"], prefix, cache_dir=rattler_cache / "pkgs")
    assert {line.split()[0] for line in installed} == _names(solution)

    code = f"import {IMPORTS}, sys, sysconfig; print(sys.prefix); print(sysconfig.get_paths()['purelib']); print(six.__file__)"
    out = subprocess.run([prefix / "bin" / "python", "-c", code], check=True, capture_output=True, text=True, env={})
    sys_prefix, purelib, six_file = out.stdout.split()
    assert Path(sys_prefix) == prefix
    assert Path(purelib) == prefix / "lib" / "python3.11" / "site-packages"
    assert Path(six_file).parent == Path(purelib)

    pip = subprocess.run([prefix / "bin" / "pip", "--version"], check=True, capture_output=True, text=True)
    assert str(prefix / "lib" / "python3.11" / "site-packages" / "pip") in pip.stdout
    assert (prefix / "conda-meta").is_dir()


def test_explicit_lock_has_one_hashed_url_per_record(env_files: dict[str, Path], solution: Solution) -> None:
    text = env_files["conda-linux-64.lock"].read_text()
    lines = text.splitlines()
    assert "@EXPLICIT" in lines
    assert "# platform: linux-64" in lines
    urls = lines[lines.index("@EXPLICIT") + 1 :]
    assert len(urls) == len(solution.records)
    for line, record in zip(urls, solution.records):
        url, _, digest = line.partition("#")
        assert url == record.url
        assert digest == record.md5.hex()
    # rattler reads it back as an explicit environment (what `conda create --file` takes)
    parsed = ExplicitEnvironmentSpec.from_str(text)
    assert [p.url for p in parsed.packages] == [line for line in urls]
    assert str(parsed.platform) == "linux-64"


def test_explicit_lock_falls_back_to_sha256(env_files: dict[str, Path]) -> None:
    record = conda.read_lock_records(env_files["conda-lock.yml"])[0]  # a fresh copy to mutate
    record.md5 = None
    text = render_explicit_lock([record])
    assert text.rstrip().endswith(f"{record.url}#sha256:{record.sha256.hex()}")


def test_environment_files(env_files: dict[str, Path], solution: Solution, local_channel: LocalChannel) -> None:
    full = yaml.safe_load(env_files["environment.yml"].read_text())
    nb = yaml.safe_load(env_files["environment.nb.yml"].read_text())
    assert full["name"] == nb["name"] == "demo"
    assert full["channels"] == nb["channels"] == [local_channel.url]
    assert full["dependencies"][-1] == nb["dependencies"][-1] == {"pip": ["requests==2.31.0"]}

    pinned = full["dependencies"][:-1]
    assert len(pinned) == len(solution.records)
    assert all(len(dep.split("=")) == 3 for dep in pinned)  # name=version=build
    assert "six=1.17.0=pyhjh_0" in pinned

    loose = nb["dependencies"][:-1]
    assert all(len(dep.split("=")) == 2 for dep in loose)  # no builds
    assert "six=1.17.0" in loose
    assert not any("pyhjh" in dep or "hjhvenv" in dep for dep in loose)


def test_no_pip_section_without_pip_lines(solution: Solution) -> None:
    doc = yaml.safe_load(render_environment_yml("x", solution.records, ["conda-forge"], []))
    assert all(isinstance(d, str) for d in doc["dependencies"])
    nb = render_environment_nb_yml("x", solution.records, ["conda-forge"])
    assert "pip:" not in nb


def test_packages_txt_and_lock_hash(env_files: dict[str, Path], solution: Solution, local_channel: LocalChannel) -> None:
    rows = [line.split() for line in env_files["packages.txt"].read_text().splitlines() if not line.startswith("#")]
    assert [row[0] for row in rows] == sorted(_names(solution))
    assert ["six", "1.17.0", "pyhjh_0", local_channel.url] in rows
    assert render_packages_txt(solution.records) == env_files["packages.txt"].read_text()

    text = render_explicit_lock(solution.records, "linux-64")
    assert lock_hash(text) == hashlib.sha256(text.encode()).hexdigest()
    assert lock_hash(text) == lock_hash(env_files["conda-linux-64.lock"].read_text())


def test_unsatisfiable_names_spec_and_origin(local_channel: LocalChannel, rattler_cache: Path) -> None:
    origins = {"six": "requirements/classes/demo/requirements.txt:3", "attrs": "requirements/common/requirements.txt:1"}
    with pytest.raises(UnsatisfiableError) as caught:
        solve_lock(["six=99", "attrs"], [local_channel.url], "3.11", origins=origins, cache_dir=rattler_cache / "repodata")
    message = str(caught.value)
    assert "six=99" in message
    assert "requirements/classes/demo/requirements.txt:3" in message
    assert "six 99" in caught.value.explanation  # rattler's own explanation is kept
    assert caught.value.involved == ("six",)


def test_unsatisfiable_missing_package(local_channel: LocalChannel, rattler_cache: Path) -> None:
    with pytest.raises(UnsatisfiableError, match="no-such-package"):
        solve_lock(["no-such-package"], [local_channel.url], "3.11", cache_dir=rattler_cache / "repodata")


def test_invalid_spec_is_reported_with_origin(local_channel: LocalChannel) -> None:
    with pytest.raises(InvalidSpecError, match="req.txt:7"):
        solve_lock(["six >=>=1"], [local_channel.url], "3.11", origins={"six": "req.txt:7"})


def test_python_spec() -> None:
    assert conda.python_spec("3.11") == "python=3.11"
    assert conda.python_spec("3.11.2") == "python==3.11.2"
    with pytest.raises(ValueError):
        conda.python_spec("3")


def test_resolve_channel() -> None:
    assert conda.resolve_channel("conda-forge", "http://127.0.0.1:9/").base_url == "http://127.0.0.1:9/conda-forge/"
    assert conda.resolve_channel("http://127.0.0.1:9/x").base_url == "http://127.0.0.1:9/x/"


@pytest.mark.parametrize("platform", ["osx-arm64", "win-64"])
def test_check_platform_records_a_result(local_channel: LocalChannel, rattler_cache: Path, platform: str) -> None:
    ok, message = check_platform(["six", "attrs"], [local_channel.url], platform, "3.11", cache_dir=rattler_cache / "repodata")
    assert isinstance(ok, bool)
    assert platform in message
    # the local channel's python is linux-64 only, so students' platforms cannot solve here
    assert ok is False
    assert "python" in message


def test_check_platform_ok_for_linux(local_channel: LocalChannel, rattler_cache: Path) -> None:
    ok, message = check_platform(["six"], [local_channel.url], "linux-64", "3.11", cache_dir=rattler_cache / "repodata")
    assert ok, message


def test_solve_lock_inside_running_event_loop(local_channel: LocalChannel, rattler_cache: Path) -> None:
    import asyncio

    async def inside() -> Solution:
        return solve_lock(["six"], [local_channel.url], "3.11", cache_dir=rattler_cache / "repodata")

    assert "six" in _names(asyncio.run(inside()))


def test_offline_env_does_not_depend_on_cwd(env_files: dict[str, Path], tmp_path: Path, rattler_cache: Path) -> None:
    # the image installs from the lock alone: no channel config, no solve
    prefix = tmp_path / "opt" / "env"
    install_lock(env_files["conda-lock.yml"], prefix, cache_dir=rattler_cache / "pkgs")
    out = subprocess.run(
        [prefix / "bin" / "python", "-c", "import tabulate; print(tabulate.tabulate([[1, 2]]))"],
        check=True, capture_output=True, text=True, cwd="/", env={"PATH": os.defpath},
    )
    assert "1  2" in out.stdout


def test_installer_refuses_a_platform_the_lock_lacks(env_files: dict[str, Path], tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(INSTALLER), str(env_files["conda-lock.yml"]), str(tmp_path / "env"),
                           "--platform", "osx-arm64"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "platform 'osx-arm64' not in the lock (it has: linux-64)" in proc.stderr
    assert not (tmp_path / "env").exists()
