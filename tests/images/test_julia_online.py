"""A real r_julia class image: real Julia download (official tarball, sha256-verified), a real Julia
environment resolved against the General registry, instantiated as locked, then the Julia checks.

Needs the public internet (julialang-s3, pkg.julialang.org, conda-forge, quay.io): deselected by
the default `-m 'not online'`; run with `.venv/bin/pytest -m online tests/images/test_julia_online.py`.
Settings (all optional): JH_JULIA_URL + JH_JULIA_SHA256 (another tarball), JH_BASE_IMAGE (default
the Dockerfile's base-notebook), JH_EXTRA_CA_BUNDLE (TLS-inspecting proxies).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from jh_pipeline.envs.conda import solve_lock, write_lock_file
from jh_pipeline.envs.julia import TarballJuliaRunner, julia_packages_from_manifest, resolve_julia_env
from jh_pipeline.images.context import build_args, prepare_build_context
from jh_pipeline.images.julia_context import add_julia_files, julia_build_args
from jh_pipeline.settings import DEFAULT_BASE_IMAGE, DEFAULT_JULIA_SHA256, DEFAULT_JULIA_URL, DEFAULT_JULIA_VERSION
from jh_pipeline.images.julia_smoke import julia_container_checks
from tests.support.docker import REPO_ROOT

pytestmark = [pytest.mark.online, pytest.mark.docker]

CLASS = "julia_online"
TAG = f"jh-test/{CLASS}:online"
# What a small real requirements.jl lists (IJulia is required for the kernel).
JULIA_PACKAGES = ["IJulia", "JSON"]
# r_julia classes carry r-base (validation rule) and r-irkernel (the r_lang stage registers the R
# kernel); ipykernel for the class's Python kernel.
CONDA_SPECS = ["ipykernel", "r-base", "r-irkernel"]


@pytest.fixture(scope="module")
def r_julia_image(docker_engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Build the real r_julia target; yields (image tag, Manifest.toml text)."""
    tmp = tmp_path_factory.mktemp("julia-online")
    url = os.environ.get("JH_JULIA_URL", "")
    sha = os.environ.get("JH_JULIA_SHA256", "")
    ca = os.environ.get("JH_EXTRA_CA_BUNDLE") or None

    # The class Julia env, resolved with the same tarball the image installs (also proves the
    # Dockerfile's default sha256 is the real one: the runner verifies it before unpacking).
    runner = TarballJuliaRunner(url=url or DEFAULT_JULIA_URL, sha256=sha or DEFAULT_JULIA_SHA256,
                                cache_dir=tmp / "julia-cache")
    env = resolve_julia_env(JULIA_PACKAGES, DEFAULT_JULIA_VERSION, tmp / "julia-env", runner)

    solution = solve_lock(CONDA_SPECS, ["conda-forge"], "3.11")
    lock = write_lock_file(solution, tmp / "conda-lock.yml").read_bytes()

    ctx = prepare_build_context(tmp / "ctx", REPO_ROOT, lock, "", "", "", Path(ca) if ca else None)
    add_julia_files(ctx, env.project_toml.encode(), env.manifest_toml.encode())
    args = build_args(CLASS, base_image=os.environ.get("JH_BASE_IMAGE") or DEFAULT_BASE_IMAGE) | julia_build_args(url, sha)
    log: list[str] = []
    for chunk in docker_engine.api.build(path=str(ctx), tag=TAG, target="r_julia", buildargs=args,
                                         network_mode="host", rm=True, forcerm=True, decode=True):
        if "error" in chunk:
            pytest.fail(f"r_julia build failed: {chunk['error']}\n" + "".join(log)[-8000:])
        log.append(chunk.get("stream", ""))
    try:
        yield TAG, env.manifest_toml
    finally:
        try:
            docker_engine.images.remove(TAG)
        except docker.errors.ImageNotFound:
            pass


def test_julia_checks_pass(docker_engine: docker.DockerClient, r_julia_image: tuple[str, str]) -> None:
    tag, _ = r_julia_image
    results = julia_container_checks(docker_engine, tag, JULIA_PACKAGES)
    by_name = {r.name: r for r in results}
    assert set(by_name) == {"julia_kernelspec", "julia_notebook", "julia_packages_load", "julia_precompiled"}
    failed = {r.name: r.message for r in results if not r.passed}
    assert not failed, failed


def test_image_has_exactly_the_locked_versions(docker_engine: docker.DockerClient,
                                               r_julia_image: tuple[str, str]) -> None:
    tag, manifest = r_julia_image
    locked = julia_packages_from_manifest(manifest)
    probe = "; ".join(f'using {name}; println("{name} ", pkgversion({name}))' for name in ("IJulia", "JSON"))
    out = docker_engine.containers.run(tag, ["julia", "--startup-file=no", "-e", probe], network_mode="host",
                                       remove=True).decode()
    found = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert found == {"IJulia": locked["IJulia"], "JSON": locked["JSON"]}
    # The default environment (no --project) is the class env, and the image runs as the notebook user.
    env = docker_engine.containers.run(tag, ["bash", "-c", "id -u; julia --startup-file=no -e 'print(Base.load_path_expand(\"@v#.#\"))'"],
                                       network_mode="host", remove=True).decode().split()
    assert env[0] == "1000"
    assert re.fullmatch(r"/opt/julia-depot/environments/v\d+\.\d+/Project\.toml", env[1]), env
