"""The docker build context of a class image: the shared Dockerfile plus the class's locked inputs.

Layout (what the repository's ``Dockerfile`` COPYs)::

    Dockerfile
    scripts/image/...                 run inside the build (install-conda-lock.py, ...)
    build/apt/common.txt              requirements/common/apt.txt (may be empty)
    build/apt/class.txt               requirements/classes/<class>/apt.txt (may be empty)
    build/conda/conda-lock.yml        the class's rattler lock file (linux-64 records)
    build/pip/requirements.pip.lock   the class's pip lock (may be empty)
    build/r/packages.R                the class's packages.R (r_lang, r_julia; may be empty)
    build/ca/extra-ca.crt             extra CA bundle for TLS-inspecting proxies (empty = none)

File modes are set explicitly: the classic builder's COPY cache compares permissions, so the same
inputs must give the same layers whatever the umask of the machine that laid them out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

DOCKERFILE = "Dockerfile"
IMAGE_SCRIPTS = "scripts/image"
APT_COMMON = "build/apt/common.txt"
APT_CLASS = "build/apt/class.txt"
CONDA_LOCK = "build/conda/conda-lock.yml"
PIP_LOCK = "build/pip/requirements.pip.lock"
PACKAGES_R = "build/r/packages.R"
EXTRA_CA = "build/ca/extra-ca.crt"

# Dockerfile stages, in inheritance order.
TARGETS = ("base", "r_lang", "r_julia")

# Production default of the Dockerfile's BASE_IMAGE; tests pass jh-local/foundation:latest.
DEFAULT_BASE_IMAGE = "quay.io/jupyter/base-notebook:2024-12-09"

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

    Only the Dockerfile and scripts/image come from `repo_root`; everything class-specific is
    passed in, so the function does not care where locks are stored. A missing or empty
    `extra_ca_bundle` gives an empty build/ca/extra-ca.crt, which the Dockerfile treats as none.
    `packages_r` is the class's packages.R (always written, empty for classes without R: only
    the r_lang stage reads it).
    """
    dest = Path(dest)
    repo_root = Path(repo_root)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"build context {dest} is not empty")
    if not conda_lock_yml.strip():
        raise ValueError("the conda lock is empty: every class image needs its conda environment")
    dest.mkdir(parents=True, exist_ok=True)

    _write(dest / DOCKERFILE, (repo_root / DOCKERFILE).read_bytes())
    scripts = repo_root / IMAGE_SCRIPTS
    for src in sorted(scripts.rglob("*")):
        if not src.is_file() or "__pycache__" in src.parts or src.suffix == ".pyc":
            continue
        _write(dest / IMAGE_SCRIPTS / src.relative_to(scripts), src.read_bytes(), 0o755)

    _write(dest / APT_COMMON, _text(apt_common))
    _write(dest / APT_CLASS, _text(apt_class))
    _write(dest / CONDA_LOCK, conda_lock_yml)
    _write(dest / PIP_LOCK, _text(pip_lock))
    _write(dest / PACKAGES_R, _text(packages_r))
    ca = b""
    if extra_ca_bundle is not None and Path(extra_ca_bundle).is_file():
        ca = Path(extra_ca_bundle).read_bytes()
    _write(dest / EXTRA_CA, ca)
    return dest


def build_args(
    class_name: str,
    *,
    base_image: str | None = None,
    kernel_display_name: str | None = None,
    pip_index_url: str | None = None,
    register_kernel: bool = True,
    keep_ca_bundle: bool = False,
    cran_repo: str | None = None,
    r_kernel_display_name: str | None = None,
    install_mysql: bool = False,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build args for the Dockerfile. Unset options are left out, so the Dockerfile defaults apply
    (and the args, which feed the image's content tag, stay the same when nothing was asked for).
    """
    if not _KERNEL_NAME.fullmatch(class_name):
        raise ValueError(f"class name {class_name!r} is not a valid kernel name ([A-Za-z0-9._-])")
    args: dict[str, str] = {"CLASS_NAME": class_name}
    if base_image:
        args["BASE_IMAGE"] = base_image
    if kernel_display_name:
        args["KERNEL_DISPLAY_NAME"] = kernel_display_name
    if pip_index_url:
        args["PIP_INDEX_URL"] = pip_index_url
    if not register_kernel:
        args["REGISTER_KERNEL"] = "0"
    if keep_ca_bundle:
        args["KEEP_CA_BUNDLE"] = "1"
    if cran_repo:
        args["CRAN_REPO"] = cran_repo
    if r_kernel_display_name:
        args["R_KERNEL_DISPLAY_NAME"] = r_kernel_display_name
    if install_mysql:
        args["INSTALL_MYSQL"] = "1"
    args.update(extra or {})
    return args
