"""Julia env: checksums, Manifest parsing, the tarball runner with a stand-in julia, and (online) real Pkg."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from jh_pipeline.envs.julia import (
    RESOLVE_SCRIPT,
    ChecksumError,
    DockerJuliaRunner,
    JuliaResolveError,
    TarballJuliaRunner,
    julia_packages_from_manifest,
    manifest_julia_version,
    resolve_julia_env,
    julia_runner,
    verify_sha256,
)

DATA = Path(__file__).parent / "data"
MANIFEST = (DATA / "Manifest_v2_sample.toml").read_text()


def _make_tarball(path: Path, members: dict[str, tuple[bytes, int]]) -> str:
    """Write a .tar.gz of {name: (content, mode)}; return its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        for name, (content, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def julia_tarball(tmp_path: Path) -> tuple[Path, str]:
    """A release-shaped tarball (`julia-1.10.10/bin/julia`) whose julia is the stand-in script."""
    fake = (DATA / "fake_julia.sh").read_bytes()
    archive = tmp_path / "julia-1.10.10-linux-x86_64.tar.gz"
    digest = _make_tarball(archive, {"julia-1.10.10/bin/julia": (fake, 0o755), "julia-1.10.10/LICENSE.md": (b"MIT\n", 0o644)})
    return archive, digest


# ---------------------------------------------------------------- checksums


def test_verify_sha256_accepts_the_right_digest(julia_tarball: tuple[Path, str]) -> None:
    archive, digest = julia_tarball
    assert verify_sha256(archive, digest) == digest
    assert verify_sha256(archive, f"sha256:{digest.upper()}") == digest


def test_verify_sha256_names_expected_and_actual(julia_tarball: tuple[Path, str]) -> None:
    archive, digest = julia_tarball
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        verify_sha256(archive, wrong)
    assert err.value.expected == wrong and err.value.actual == digest
    assert wrong in str(err.value) and digest in str(err.value)


def test_tarball_runner_refuses_a_wrong_checksum_before_unpacking(
    julia_tarball: tuple[Path, str], tmp_path: Path
) -> None:
    archive, _ = julia_tarball
    runner = TarballJuliaRunner(url=archive.as_uri(), sha256="f" * 64, cache_dir=tmp_path / "cache")
    with pytest.raises(ChecksumError, match="f" * 64):
        runner.julia_binary()
    assert not list((tmp_path / "cache" / "dist").glob("*/**/julia"))


def test_tarball_runner_resolves_with_the_verified_julia(
    julia_tarball: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, digest = julia_tarball
    monkeypatch.setenv("FAKE_JULIA_DATA", str(DATA))
    runner = TarballJuliaRunner(url=archive.as_uri(), sha256=digest, cache_dir=tmp_path / "cache")
    out = tmp_path / "env"
    out.mkdir()
    (out / "Manifest.toml").write_text("stale = true\n")  # must not survive a fresh solve

    env = resolve_julia_env(["IJulia", "JSON", "IJulia", " "], "1.10", out, runner)

    assert (out / "args.txt").read_text().split() == ["IJulia", "JSON"]  # deduplicated, in order
    precompile, depot = (out / "env.txt").read_text().split()
    assert precompile == "0" and depot == f"{tmp_path / 'cache' / 'depot'}:"
    assert env.packages == {"Conda": "1.10.2", "IJulia": "1.26.0", "JSON": "0.21.4", "OpenBLAS_jll": "0.3.23+4"}
    assert env.julia_version == "1.10.10" and env.warnings == []
    assert env.manifest_toml == MANIFEST
    # Unpacked once per checksum; a second run reuses the cache even if the URL is gone.
    archive.unlink()
    assert runner.julia_binary().name == "julia"


def test_manifest_from_another_julia_minor_is_rejected(tmp_path: Path) -> None:
    class CopyRunner:
        def run_script(self, script: Path, out_dir: Path, args: Sequence[str]) -> str:
            assert script == RESOLVE_SCRIPT and script.is_file()
            (out_dir / "Project.toml").write_text((DATA / "Project_sample.toml").read_text())
            (out_dir / "Manifest.toml").write_text(MANIFEST)
            return ""

    with pytest.raises(JuliaResolveError, match="1.10.10"):
        resolve_julia_env(["IJulia"], "1.11", tmp_path, CopyRunner())


def test_missing_env_files_and_empty_lists_are_errors(tmp_path: Path) -> None:
    class SilentRunner:
        def run_script(self, script: Path, out_dir: Path, args: Sequence[str]) -> str:
            return ""

    with pytest.raises(JuliaResolveError, match="Project.toml, Manifest.toml"):
        resolve_julia_env(["IJulia"], "1.10", tmp_path, SilentRunner())
    with pytest.raises(ValueError, match="no Julia packages"):
        resolve_julia_env([], "1.10", tmp_path, SilentRunner())


def test_runner_from_settings() -> None:
    docker_runner = julia_runner("1.10.10")
    assert isinstance(docker_runner, DockerJuliaRunner) and docker_runner.image == "julia:1.10.10"
    assert julia_runner("1.10.10", image="mirror.local/julia:1.10.10").image == "mirror.local/julia:1.10.10"  # type: ignore[attr-defined]
    tarball = julia_runner("1.10.10", url="https://x/j.tar.gz", sha256="ab" * 32, pkg_server="https://pkg.local")
    assert isinstance(tarball, TarballJuliaRunner) and tarball.sha256 == "ab" * 32
    assert tarball.pkg_server == "https://pkg.local" and tarball.ca_bundle is None
    with pytest.raises(ValueError, match="JH_JULIA_SHA256"):
        julia_runner("1.10.10", url="https://x/j.tar.gz")


# ---------------------------------------------------------------- Manifest parsing


def test_manifest_v2_packages_and_julia_version() -> None:
    assert julia_packages_from_manifest(MANIFEST) == {
        "Conda": "1.10.2",
        "IJulia": "1.26.0",
        "JSON": "0.21.4",
        "OpenBLAS_jll": "0.3.23+4",  # stdlibs without `version` (Dates, Printf) are left out
    }
    assert manifest_julia_version(MANIFEST) == "1.10.10"


def test_manifest_v1_and_bad_input() -> None:
    v1 = '[[JSON]]\nuuid = "682c06a0-de6a-54ab-a142-c8b1cf79cde6"\nversion = "0.21.4"\n'
    assert julia_packages_from_manifest(v1) == {"JSON": "0.21.4"}
    assert manifest_julia_version(v1) is None
    with pytest.raises(ValueError, match="unsupported Manifest format"):
        julia_packages_from_manifest('manifest_format = "3.0"\n')
    with pytest.raises(ValueError, match="not valid TOML"):
        julia_packages_from_manifest("[[deps.JSON]\n")


# ---------------------------------------------------------------- real Pkg (needs the internet)


@pytest.mark.online
def test_real_julia_resolution(tmp_path: Path) -> None:
    """Docker Hub's julia image (or JH_JULIA_URL + JH_JULIA_SHA256) and the General registry."""
    from jh_pipeline.settings import EndpointSettings

    version = os.environ.get("JH_TEST_JULIA_VERSION", "1.10.10")
    endpoints = EndpointSettings.from_environ(os.environ)
    runner = julia_runner(version, url=endpoints.julia_url, sha256=endpoints.julia_sha256, image=endpoints.julia_image,
                          ca_bundle=endpoints.extra_ca_bundle, pkg_server=endpoints.julia_pkg_server)
    env = resolve_julia_env(["IJulia", "JSON"], version, tmp_path, runner)
    assert {"IJulia", "JSON"} <= env.packages.keys()
    assert env.julia_version is not None and env.julia_version.startswith(version.rsplit(".", 1)[0])
    assert 'IJulia = "7073ff75-c697-5162-941a-fcdaad2a7d2a"' in env.project_toml
