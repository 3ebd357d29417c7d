"""The docker build context of the server image or of a class image: the shared Dockerfile plus locks.

Layout (what the repository's ``Dockerfile`` COPYs)::

    Dockerfile
    scripts/image/...                 run inside the build: jh_pipeline/images/scripts/ (package data)
    build/ca/extra-ca.crt             extra CA bundle for TLS-inspecting proxies (empty = none)
    build/apt/common.txt              server: requirements/common/apt.txt      (class builds: empty)
    build/server/conda-lock.yml       server: the server env's rattler lock    (class builds: empty)
    build/server/requirements.pip.lock  server: the server env's pip lock      (may be empty)
    build/apt/class.txt               class: requirements/classes/<class>/apt.txt (may be empty)
    build/conda/conda-lock.yml        class: the class's rattler lock (linux-64 records)
    build/pip/requirements.pip.lock   class: the class's pip lock (may be empty)
    build/r/packages.R                class: packages.R (r_lang, r_julia; may be empty)

A class build's server inputs are empty on purpose: the classic builder walks every stage before
the target, and empty inputs make the server stages pass without work (see the Dockerfile header).
File modes are set explicitly: the classic builder's COPY cache compares permissions, so the same
inputs must give the same layers whatever the umask of the machine that laid them out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from jh_pipeline.settings import DEFAULT_BASE_IMAGE, DEFAULT_CRAN_REPO, DEFAULT_PIP_INDEX_URL, RATTLER_VERSION

DOCKERFILE = "Dockerfile"
IMAGE_SCRIPTS = "scripts/image"  # in the context
# The scripts the build runs ship with the package; the Dockerfile comes from the repository.
BUILD_SCRIPTS = Path(__file__).resolve().parent / "scripts"
APT_COMMON = "build/apt/common.txt"
SERVER_LOCK = "build/server/conda-lock.yml"
SERVER_PIP_LOCK = "build/server/requirements.pip.lock"
APT_CLASS = "build/apt/class.txt"
CONDA_LOCK = "build/conda/conda-lock.yml"
PIP_LOCK = "build/pip/requirements.pip.lock"
PACKAGES_R = "build/r/packages.R"
EXTRA_CA = "build/ca/extra-ca.crt"

# Dockerfile targets: the shared server image, then the class stages in inheritance order.
SERVER_TARGET = "server"
TARGETS = ("base", "r_lang", "r_julia")

# The class name is also the Jupyter kernel name and part of /opt/envs/<class>.
_KERNEL_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _text(content: str) -> bytes:
    """Lists and locks as UTF-8 with exactly one trailing newline (an empty input stays empty)."""
    content = content.replace("\r\n", "\n").strip("\n")
    return (content + "\n").encode() if content.strip() else b""


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _lay_out(dest: Path, repo_root: Path, files: Mapping[str, bytes], extra_ca_bundle: Path | None) -> Path:
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"build context {dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    _write(dest / DOCKERFILE, (Path(repo_root) / DOCKERFILE).read_bytes())
    scripts = BUILD_SCRIPTS
    for src in sorted(scripts.rglob("*")):
        if not src.is_file() or "__pycache__" in src.parts or src.suffix == ".pyc":
            continue
        _write(dest / IMAGE_SCRIPTS / src.relative_to(scripts), src.read_bytes(), 0o755)
    empty = dict.fromkeys((APT_COMMON, SERVER_LOCK, SERVER_PIP_LOCK, APT_CLASS, CONDA_LOCK, PIP_LOCK, PACKAGES_R), b"")
    for rel, data in {**empty, **files}.items():
        _write(dest / rel, data)
    ca = b""
    if extra_ca_bundle is not None and Path(extra_ca_bundle).is_file():
        ca = Path(extra_ca_bundle).read_bytes()
    _write(dest / EXTRA_CA, ca)
    return dest


def prepare_server_context(
    dest: Path, repo_root: Path, server_lock_yml: bytes, server_pip_lock: str, apt_common: str,
    extra_ca_bundle: Path | None,
) -> Path:
    """Lay out the build context of the server image (target `server`) in `dest`."""
    if not server_lock_yml.strip():
        raise ValueError("the server lock is empty: the server image needs its notebook server env")
    files = {SERVER_LOCK: server_lock_yml, SERVER_PIP_LOCK: _text(server_pip_lock), APT_COMMON: _text(apt_common)}
    return _lay_out(dest, repo_root, files, extra_ca_bundle)


def prepare_build_context(
    dest: Path,
    repo_root: Path,
    conda_lock_yml: bytes,
    pip_lock: str,
    apt_common: str,
    apt_class: str,
    extra_ca_bundle: Path | None,
    packages_r: str = "",
) -> Path:
    """Lay out the build context of one class image in `dest` (created; must be empty) and return it.

    Only the Dockerfile comes from `repo_root` (the build scripts from the package); everything class-specific is
    passed in, so the function does not care where locks are stored. A missing or empty
    `extra_ca_bundle` gives an empty build/ca/extra-ca.crt, which the Dockerfile treats as none.
    `apt_common` must be empty for class builds (the common apt list is the server image's);
    it is kept as a parameter for builds of a class straight on a foundation (tests).
    """
    if not conda_lock_yml.strip():
        raise ValueError("the conda lock is empty: every class image needs its conda environment")
    files = {
        APT_COMMON: _text(apt_common), APT_CLASS: _text(apt_class), CONDA_LOCK: conda_lock_yml,
        PIP_LOCK: _text(pip_lock), PACKAGES_R: _text(packages_r),
    }
    return _lay_out(dest, repo_root, files, extra_ca_bundle)


def build_args(
    class_name: str,
    *,
    base_image: str = DEFAULT_BASE_IMAGE,
    kernel_display_name: str | None = None,
    pip_index_url: str | None = None,
    register_kernel: bool = True,
    keep_ca_bundle: bool = False,
    cran_repo: str | None = None,
    r_kernel_display_name: str | None = None,
    install_mysql: bool = False,
    server_image: str | None = None,
    conda_channels: tuple[str, ...] = (),
    sqlite_kernel: bool = False,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build args for the Dockerfile. The defaults the Dockerfile needs (base image, pip index,
    py-rattler version; CRAN for R targets) come from jh_pipeline.settings, their one home, and are
    always passed; other options are left out when not asked for.
    """
    if not _KERNEL_NAME.fullmatch(class_name):
        raise ValueError(f"class name {class_name!r} is not a valid kernel name ([A-Za-z0-9._-])")
    args: dict[str, str] = {"CLASS_NAME": class_name, **_common_args(base_image, pip_index_url)}
    if kernel_display_name:
        args["KERNEL_DISPLAY_NAME"] = kernel_display_name
    if not register_kernel:
        args["REGISTER_KERNEL"] = "0"
    if keep_ca_bundle:
        args["KEEP_CA_BUNDLE"] = "1"
    if cran_repo is not None:  # R targets
        args["CRAN_REPO"] = cran_repo or DEFAULT_CRAN_REPO
    if r_kernel_display_name:
        args["R_KERNEL_DISPLAY_NAME"] = r_kernel_display_name
    if install_mysql:
        args["INSTALL_MYSQL"] = "1"
    if server_image:
        args["SERVER_IMAGE"] = server_image
    if conda_channels:
        args["CONDA_CHANNELS"] = ",".join(conda_channels)
    if sqlite_kernel:
        args["SQLITE_KERNEL"] = "1"
    args.update(extra or {})
    return args


def _common_args(base_image: str, pip_index_url: str | None) -> dict[str, str]:
    return {"BASE_IMAGE": base_image or DEFAULT_BASE_IMAGE, "PIP_INDEX_URL": pip_index_url or DEFAULT_PIP_INDEX_URL,
            "RATTLER_VERSION": RATTLER_VERSION}


def server_build_args(*, base_image: str, hub_version: str, pip_index_url: str | None = None) -> dict[str, str]:
    return {**_common_args(base_image, pip_index_url), "HUB_VERSION": hub_version}
