"""The Julia part of a class image's build context and build args (Dockerfile stage `r_julia`).

`prepare_build_context` (context.py) lays out what every class needs; for `r_julia` classes the
caller adds the locked Julia environment published by the `julia_env` asset::

    build/julia/Project.toml     the class Project.toml, byte for byte
    build/julia/Manifest.toml    the class Manifest.toml, byte for byte (instantiated as locked)

and passes `julia_build_args(...)` with the other build args. The scripts that use them
(images/scripts/julia/) are already part of the build scripts, which context.py copies for every class.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from jh_pipeline.settings import DEFAULT_JULIA_SHA256, DEFAULT_JULIA_URL

JULIA_PROJECT = "build/julia/Project.toml"
JULIA_MANIFEST = "build/julia/Manifest.toml"

URL_VAR = "JH_JULIA_URL"
SHA256_VAR = "JH_JULIA_SHA256"

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)  # explicit, like context.py: the classic builder's COPY cache compares modes


def _check_toml(name: str, data: bytes) -> dict[str, object]:
    if not data.strip():
        raise ValueError(f"{name} is empty: an r_julia image needs the julia_env asset's {name}")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{name} is not valid TOML: {exc}") from exc


def add_julia_files(context_dir: Path, project_toml: bytes, manifest_toml: bytes) -> None:
    """Add the class's locked Julia environment to a prepared build context (r_julia classes only).

    The files are written unchanged (the image instantiates exactly this Manifest). Raises
    `ValueError` for an empty or unparsable file, or a Project.toml without IJulia (the kernel
    must come from the lock like every other package).
    """
    context_dir = Path(context_dir)
    if not (context_dir / "Dockerfile").is_file():
        raise FileNotFoundError(f"{context_dir} is not a prepared build context (no Dockerfile)")
    project = _check_toml("Project.toml", project_toml)
    _check_toml("Manifest.toml", manifest_toml)
    deps = project.get("deps", {})
    if not isinstance(deps, dict) or "IJulia" not in deps:
        raise ValueError("Project.toml has no IJulia dependency: add \"IJulia\" to requirements.jl (the Julia kernel)")
    _write(context_dir / JULIA_PROJECT, project_toml)
    _write(context_dir / JULIA_MANIFEST, manifest_toml)


def julia_build_args(url: str, sha256: str, *, pkg_server: str = "") -> dict[str, str]:
    """Build args `JULIA_URL` + `JULIA_SHA256` for the r_julia stage (`EndpointsResource.julia_url`,
    `.julia_sha256`, i.e. JH_JULIA_URL / JH_JULIA_SHA256).

    Both empty: the official tarball and its sha256 (settings.DEFAULT_JULIA_URL/SHA256; the
    Dockerfile has no defaults of its own). A URL needs its checksum (never an unverified download)
    and a checksum needs its URL; the sha256 is normalised to 64 lowercase hex digits.
    `pkg_server` (optional, e.g. the standard JULIA_PKG_SERVER variable): a Pkg server mirror used
    while instantiating, passed as `JULIA_PKG_SERVER_URL`; empty keeps Julia's default server.
    """
    url, sha = url.strip(), sha256.strip().lower().removeprefix("sha256:")
    extra = {"JULIA_PKG_SERVER_URL": pkg_server.strip()} if pkg_server.strip() else {}
    if not url and not sha:
        return {"JULIA_URL": DEFAULT_JULIA_URL, "JULIA_SHA256": DEFAULT_JULIA_SHA256, **extra}
    if not sha:
        raise ValueError(f"{URL_VAR} is set but {SHA256_VAR} is empty: set {SHA256_VAR} to the tarball's sha256 "
                         "(an unverified Julia download is refused)")
    if not url:
        raise ValueError(f"{SHA256_VAR} is set but {URL_VAR} is not: set both, or neither for the default Julia")
    if not _SHA256.fullmatch(sha):
        raise ValueError(f"{SHA256_VAR} {sha256!r} is not a sha256 (64 hex digits)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{URL_VAR} {url!r} is not an http(s) URL")
    return {"JULIA_URL": url, "JULIA_SHA256": sha, **extra}
