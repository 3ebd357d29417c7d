"""The r_julia stage, hermetically: Julia cannot be downloaded here, so the real stage's download
step (the Dockerfile lines from `FROM ca AS julia_depot` to the end-of-download marker, running
scripts/image/julia/install-julia.sh) is built on the foundation image against a local stand-in
tarball served on 127.0.0.1. The full r_julia build is tests/images/test_julia_online.py.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from jh_pipeline.images.context import prepare_build_context
from jh_pipeline.settings import DEFAULT_JULIA_SHA256, DEFAULT_JULIA_URL, DEFAULT_JULIA_VERSION
from jh_pipeline.images.julia_context import (
    JULIA_MANIFEST,
    JULIA_PROJECT,
    add_julia_files,
    julia_build_args,
)
from jh_pipeline.images.julia_smoke import julia_container_checks, julia_plan
from tests.support.docker import HOST, REPO_ROOT
from tests.support.common import HOST_CA as COMMON_CA

FAKE_VERSION = "1.10.99"
STAGE_START = "FROM ca AS julia_depot"
STAGE_DOWNLOAD_END = "# --- end of the Julia download"
HOST_CA = Path(COMMON_CA)
IMAGE = "jh-test/julia-stage"

# A stand-in `julia`: `--version` like the real one; called as the load probe of julia_checks.py
# (`julia ... -e CODE NAMES...`) it reports every name as loaded except "Missing".
FAKE_JULIA = f"""#!/bin/sh
for arg in "$@"; do
    [ "$arg" = --version ] && {{ echo "julia version {FAKE_VERSION}"; exit 0; }}
done
while [ $# -gt 0 ]; do case "$1" in -e) shift 2; break ;; *) shift ;; esac; done
printf 'ENV\\t/opt/julia-depot/environments/v1.10/Project.toml\\n'
for name in "$@"; do
    if [ "$name" = Missing ]; then printf 'FAIL\\t%s\\tArgumentError: Package Missing not found\\n' "$name"
    else printf 'OK\\t%s\\n' "$name"; fi
done
"""

PROJECT = b'[deps]\nIJulia = "7073ff75-c697-5162-941a-fcdaad2a7d2a"\nJSON = "682c06a0-de6a-54ab-a142-c8b1cf79cde6"\n'
MANIFEST = b'julia_version = "1.10.10"\nmanifest_format = "2.0"\n\n[[deps.JSON]]\nversion = "0.21.4"\n'


# --- pure: build args, context files, Dockerfile defaults --------------------------------------

def test_julia_build_args() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    # the official tarball (settings), always passed: the Dockerfile has no default of its own
    assert julia_build_args("", "") == {"JULIA_URL": DEFAULT_JULIA_URL, "JULIA_SHA256": DEFAULT_JULIA_SHA256}
    assert julia_build_args(" https://mirror.example/julia.tar.gz ", f"sha256:{sha.upper()}") == {
        "JULIA_URL": "https://mirror.example/julia.tar.gz", "JULIA_SHA256": sha}
    assert julia_build_args("", "", pkg_server="https://pkg.mirror.example") == {
        "JULIA_URL": DEFAULT_JULIA_URL, "JULIA_SHA256": DEFAULT_JULIA_SHA256,
        "JULIA_PKG_SERVER_URL": "https://pkg.mirror.example"}
    with pytest.raises(ValueError, match="JH_JULIA_SHA256 is empty"):
        julia_build_args("https://mirror.example/julia.tar.gz", "")
    with pytest.raises(ValueError, match="JH_JULIA_URL is not"):
        julia_build_args("", sha)
    with pytest.raises(ValueError, match="64 hex"):
        julia_build_args("https://mirror.example/julia.tar.gz", "abc")
    with pytest.raises(ValueError, match="http"):
        julia_build_args("/srv/julia.tar.gz", sha)


def test_julia_stage_installs_the_resolving_julia() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    stage = text[text.index(STAGE_START):]
    assert re.search(r"^ARG JULIA_URL$", stage, re.MULTILINE) and re.search(r"^ARG JULIA_SHA256$", stage, re.MULTILINE)
    # The version the julia_env asset resolves with is the version the image installs.
    assert f"/julia-{DEFAULT_JULIA_VERSION}-linux-x86_64.tar.gz" in DEFAULT_JULIA_URL
    assert STAGE_DOWNLOAD_END in stage
    for needed in ("JULIA_CPU_TARGET", "generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1)",
                   "instantiate.jl", "COPY build/julia/Project.toml build/julia/Manifest.toml"):
        assert needed in stage, needed
    code = [line.split("#", 1)[0] for line in (REPO_ROOT / "jh_pipeline/images/scripts/julia/instantiate.jl").read_text().splitlines()]
    assert not [line for line in code if re.search(r"Pkg\.(update|resolve|add|up)\b", line)]  # exactly as locked


def test_add_julia_files(tmp_path: Path) -> None:
    ctx = prepare_build_context(tmp_path / "ctx", REPO_ROOT, b"lock", "", "", "", None)
    add_julia_files(ctx, PROJECT, MANIFEST)
    assert (ctx / JULIA_PROJECT).read_bytes() == PROJECT  # byte for byte: instantiated as locked
    assert (ctx / JULIA_MANIFEST).read_bytes() == MANIFEST
    assert (ctx / JULIA_MANIFEST).stat().st_mode & 0o777 == 0o644
    assert (ctx / "scripts/image/julia/install-julia.sh").stat().st_mode & 0o777 == 0o755
    with pytest.raises(ValueError, match="IJulia"):
        add_julia_files(ctx, b'[deps]\nJSON = "682c06a0-de6a-54ab-a142-c8b1cf79cde6"\n', MANIFEST)
    with pytest.raises(ValueError, match="Manifest.toml is empty"):
        add_julia_files(ctx, PROJECT, b" \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        add_julia_files(ctx, PROJECT, b"[[deps.JSON]\n")
    with pytest.raises(FileNotFoundError):
        add_julia_files(tmp_path / "nothing", PROJECT, MANIFEST)


def test_julia_checks_script_with_a_stand_in_julia(tmp_path: Path) -> None:
    """The in-image load check parses the probe's output: loads, failures, recompilation."""
    fake = tmp_path / "bin" / "julia"
    fake.parent.mkdir()
    fake.write_text(FAKE_JULIA)
    fake.chmod(0o755)
    script = REPO_ROOT / "jh_pipeline/images/checks/julia_checks.py"
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}

    def run(packages: list[str]) -> dict[str, dict[str, object]]:
        plan = julia_plan(packages, checks=["packages"])
        proc = subprocess.run([sys.executable, str(script), json.dumps(plan)], capture_output=True, text=True,
                              env=env, timeout=60, check=True)
        return {r["name"]: r for r in json.loads(proc.stdout)}

    good = run(["IJulia", "JSON", "IJulia"])
    assert good["julia_packages_load"]["passed"], good
    assert "2 packages loaded from /opt/julia-depot/environments/v1.10" in good["julia_packages_load"]["message"]
    assert good["julia_precompiled"]["passed"]
    bad = run(["IJulia", "Missing"])
    assert not bad["julia_packages_load"]["passed"]
    assert "Missing: ArgumentError" in bad["julia_packages_load"]["message"]
    with pytest.raises(ValueError, match="unknown Julia checks"):
        julia_plan(["IJulia"], checks=["packages", "bogus"])


# --- docker: the real download step on the foundation image -----------------------------------

@dataclass(frozen=True)
class Tarball:
    url: str
    sha256: str


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def julia_tarball(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tarball]:
    """A release-shaped tarball (`julia-<v>/bin/julia`) served on 127.0.0.1 while the module runs."""
    root = tmp_path_factory.mktemp("julia-dist")
    archive = root / f"julia-{FAKE_VERSION}-linux-x86_64.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data, mode in ((f"julia-{FAKE_VERSION}/bin/julia", FAKE_JULIA.encode(), 0o755),
                                 (f"julia-{FAKE_VERSION}/share/julia/base.txt", b"stand-in\n", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid = len(data), mode, 1_700_000_000, 4242
            tar.addfile(info, io.BytesIO(data))
    server = http.server.ThreadingHTTPServer((HOST, 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Tarball(f"http://{HOST}:{server.server_address[1]}/{archive.name}",
                      hashlib.sha256(archive.read_bytes()).hexdigest())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def download_stage_context(dest: Path, foundation_image: str) -> Path:
    """A build context whose Dockerfile is the real julia_depot stage up to the end of its download
    step, on the foundation image instead of the `ca` stage (the rest of the context is the real one)."""
    ctx = prepare_build_context(dest, REPO_ROOT, b"lock", "", "", "", HOST_CA if HOST_CA.is_file() else None)
    text = (REPO_ROOT / "Dockerfile").read_text()
    start = text.index(STAGE_START)
    stage = text[start:text.index(STAGE_DOWNLOAD_END, start)]
    stage = stage.replace(STAGE_START, f"FROM {foundation_image}", 1)
    (ctx / "Dockerfile").write_text(stage)
    return ctx


@dataclass
class BuildResult:
    ok: bool
    log: str


def build(client: docker.DockerClient, ctx: Path, tag: str, args: dict[str, str]) -> BuildResult:
    lines: list[str] = []
    for chunk in client.api.build(path=str(ctx), tag=tag, buildargs=args, network_mode="host", rm=True,
                                  forcerm=True, decode=True, pull=False):
        if "error" in chunk:
            lines.append(chunk["error"])
            return BuildResult(False, "".join(lines))
        lines.append(chunk.get("stream", ""))
    return BuildResult(True, "".join(lines))


def remove_image(client: docker.DockerClient, tag: str) -> None:
    try:
        client.images.remove(tag)
    except docker.errors.ImageNotFound:
        pass


@pytest.fixture(scope="module")
def installed_image(docker_engine: docker.DockerClient, foundation_image: str, julia_tarball: Tarball,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tag = f"{IMAGE}:ok"
    ctx = download_stage_context(tmp_path_factory.mktemp("julia-ok"), foundation_image)
    result = build(docker_engine, ctx, tag, {"JULIA_URL": julia_tarball.url, "JULIA_SHA256": julia_tarball.sha256})
    if not result.ok:
        pytest.fail(f"download step failed with the right checksum:\n{result.log[-5000:]}")
    assert "sha256 verified: " + julia_tarball.sha256 in result.log
    try:
        yield tag
    finally:
        remove_image(docker_engine, tag)


@pytest.mark.docker
def test_right_checksum_installs_julia(docker_engine: docker.DockerClient, installed_image: str) -> None:
    out = docker_engine.containers.run(installed_image, ["bash", "-c", (
        "julia --version; readlink -f /usr/local/bin/julia; stat -c %u /opt/julia-depot;"
        " stat -c %u /opt/julia/bin/julia; ls -d /opt/.julia-staging* /tmp/jh-julia-install.* 2>/dev/null;"
        " true")], network_mode="host", remove=True, user="0").decode().splitlines()
    assert out == [f"julia version {FAKE_VERSION}", "/opt/julia/bin/julia", "0", "0"]
    # The notebook user runs it too (the stage goes on as root, then hands over to uid 1000).
    as_user = docker_engine.containers.run(installed_image, ["julia", "--version"], network_mode="host",
                                           remove=True, user="1000").decode().strip()
    assert as_user == f"julia version {FAKE_VERSION}"


@pytest.mark.docker
def test_wrong_checksum_fails_naming_both(docker_engine: docker.DockerClient, foundation_image: str,
                                          julia_tarball: Tarball, tmp_path: Path) -> None:
    wrong = hashlib.sha256(b"not the tarball").hexdigest()
    tag = f"{IMAGE}:wrong"
    try:
        result = build(docker_engine, download_stage_context(tmp_path / "ctx", foundation_image), tag,
                       {"JULIA_URL": julia_tarball.url, "JULIA_SHA256": wrong})
        assert not result.ok, "a wrong checksum must fail the build"
        assert f"sha256 mismatch for {julia_tarball.url}: expected {wrong}, got {julia_tarball.sha256}" in result.log
        assert "installed Julia" not in result.log
        with pytest.raises(docker.errors.ImageNotFound):
            docker_engine.images.get(tag)
    finally:
        remove_image(docker_engine, tag)


@pytest.mark.docker
def test_empty_checksum_fails_naming_the_setting(docker_engine: docker.DockerClient, foundation_image: str,
                                                 julia_tarball: Tarball, tmp_path: Path) -> None:
    tag = f"{IMAGE}:empty"
    try:
        result = build(docker_engine, download_stage_context(tmp_path / "ctx", foundation_image), tag,
                       {"JULIA_URL": julia_tarball.url, "JULIA_SHA256": ""})
        assert not result.ok, "an empty checksum must fail the build"
        assert "JULIA_SHA256 is empty: set JH_JULIA_SHA256" in result.log
        assert "downloading" not in result.log  # refused before anything was fetched
    finally:
        remove_image(docker_engine, tag)


@pytest.mark.docker
def test_julia_container_checks_plumbing(docker_engine: docker.DockerClient, installed_image: str) -> None:
    """julia_smoke runs julia_checks.py in a container and parses it (stand-in julia, no kernel)."""
    results = {r.name: r for r in julia_container_checks(docker_engine, installed_image, ["IJulia", "JSON"],
                                                         checks=["packages", "kernelspec"], timeout=300)}
    assert results["julia_packages_load"].passed, results
    assert results["julia_precompiled"].passed, results
    assert not results["julia_kernelspec"].passed  # only the download step was built: no kernel yet
    assert "kernel 'julia' missing" in results["julia_kernelspec"].message
    failed = julia_container_checks(docker_engine, installed_image, ["Missing"], checks=["packages"], timeout=300)
    assert [r.passed for r in failed] == [False, False] and "Missing" in failed[0].message
