"""Julia environment resolution for `r_julia` classes.

Package UUIDs and versions come from the General registry, so resolution runs Julia's own
Pkg (`envs/resolve_env.jl`, package data) through a runner: a Docker image (`JH_JULIA_IMAGE`,
default the official `julia:<version>` image) or a release tarball (`JH_JULIA_URL` +
`JH_JULIA_SHA256`) that is checksum-verified and unpacked into a cache directory.
`verify_sha256` and `julia_packages_from_manifest` are pure helpers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import tomllib
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# The settings that choose the runner (settings.EndpointSettings), named in errors.
IMAGE_ENV = "JH_JULIA_IMAGE"
URL_ENV = "JH_JULIA_URL"
SHA256_ENV = "JH_JULIA_SHA256"
CACHE_ENV = "JH_JULIA_CACHE"  # a cache folder, like XDG_CACHE_HOME: not a pipeline setting
# Standard Julia variable: a Pkg server mirror for air-gapped sites; given to Julia as is.
PKG_SERVER_ENV = "JULIA_PKG_SERVER"

DEFAULT_TIMEOUT_S = 3600.0
RESOLVE_SCRIPT = Path(__file__).resolve().parent / "resolve_env.jl"  # package data
ENV_FILES = ("Project.toml", "Manifest.toml")


class ChecksumError(ValueError):
    """A download's sha256 differs from the configured one."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(f"sha256 mismatch for {path}: expected {expected}, actual {actual}")


class JuliaResolveError(RuntimeError):
    """Julia's Pkg failed, or wrote no usable environment."""


@dataclass(frozen=True)
class JuliaEnv:
    """A resolved environment: file texts plus `name -> version` of every versioned package."""

    project_toml: str
    manifest_toml: str
    packages: dict[str, str]
    julia_version: str | None
    warnings: list[str] = field(default_factory=list)


class JuliaRunner(Protocol):
    """Runs a Julia script as `julia script OUT_DIR ARGS...` with OUT_DIR writable; returns its output."""

    def run_script(self, script: Path, out_dir: Path, args: Sequence[str]) -> str: ...


# ---------------------------------------------------------------- pure helpers


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> str:
    """Return the file's sha256 if it equals `expected` (hex, optional `sha256:`), else raise `ChecksumError`."""
    want = expected.strip().lower().removeprefix("sha256:")
    actual = sha256_file(Path(path))
    if actual != want:
        raise ChecksumError(Path(path), want, actual)
    return actual


def _manifest(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"Manifest.toml is not valid TOML: {exc}") from exc


def _manifest_entries(text: str) -> dict[str, list[dict[str, Any]]]:
    """Entries by name. Format 2.0 keeps them under `[[deps.Name]]`; 1.0 (Julia < 1.7) at top level."""
    data = _manifest(text)
    fmt = str(data.get("manifest_format", "1.0"))
    if fmt.startswith("2."):
        return dict(data.get("deps", {}))
    if fmt.startswith("1."):
        return {k: v for k, v in data.items() if isinstance(v, list)}
    raise ValueError(f"unsupported Manifest format {fmt!r}")


def julia_packages_from_manifest(text: str) -> dict[str, str]:
    """`name -> version` for every Manifest entry that has a version, sorted by name.

    Standard libraries without a `version` key are left out: the Julia version fixes them.
    """
    packages: dict[str, str] = {}
    for name, entries in _manifest_entries(text).items():
        for entry in entries:
            if "version" in entry:
                packages[name] = str(entry["version"])
    return dict(sorted(packages.items()))


def manifest_julia_version(text: str) -> str | None:
    """The Julia version that wrote a format-2 Manifest (None for format 1)."""
    version = _manifest(text).get("julia_version")
    return str(version) if version is not None else None


def _same_minor(a: str, b: str) -> bool:
    return a.split(".")[:2] == b.split(".")[:2]


def _julia_env(extra: Mapping[str, str], pkg_server: str) -> dict[str, str]:
    """Variables for the Julia process: no precompilation (only resolving), optional Pkg server."""
    return {"JULIA_PKG_PRECOMPILE_AUTO": "0", **extra, **({PKG_SERVER_ENV: pkg_server} if pkg_server else {})}


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jh_pipeline" / "julia"


# ---------------------------------------------------------------- runners (effects)


@dataclass
class DockerJuliaRunner:
    """Runs Julia in a container (host networking), as the calling user so files stay ours."""

    image: str
    cache_dir: Path = field(default_factory=default_cache_dir)
    ca_bundle: str | None = None
    pkg_server: str = ""
    timeout: float = DEFAULT_TIMEOUT_S

    def run_script(self, script: Path, out_dir: Path, args: Sequence[str]) -> str:
        import docker  # imported here: only this runner needs a Docker engine

        depot = self.cache_dir / "depot"  # registry + packages survive between runs
        depot.mkdir(parents=True, exist_ok=True)
        volumes = {
            str(script.parent.resolve()): {"bind": "/jh/scripts", "mode": "ro"},
            str(out_dir.resolve()): {"bind": "/jh/out", "mode": "rw"},
            str(depot.resolve()): {"bind": "/jh/depot", "mode": "rw"},
        }
        # Trailing ":" keeps the image's bundled depot (stdlib caches) after ours.
        extra = {"JULIA_DEPOT_PATH": "/jh/depot:", "HOME": "/jh/depot"}
        if self.ca_bundle:
            volumes[str(Path(self.ca_bundle).resolve())] = {"bind": "/jh/ca.crt", "mode": "ro"}
            extra["JULIA_SSL_CA_ROOTS_PATH"] = "/jh/ca.crt"
        client = docker.from_env()
        container = client.containers.run(
            self.image,
            ["julia", "--startup-file=no", "--history-file=no", f"/jh/scripts/{script.name}", "/jh/out", *args],
            volumes=volumes,
            environment=_julia_env(extra, self.pkg_server),
            network_mode="host",
            user=f"{os.getuid()}:{os.getgid()}",
            detach=True,
        )
        try:
            status = container.wait(timeout=self.timeout)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True)
        if status.get("StatusCode") != 0:
            raise JuliaResolveError(f"Julia in {self.image} failed (exit {status.get('StatusCode')}):\n{_tail(output)}")
        return output


@dataclass
class TarballJuliaRunner:
    """Runs Julia from a release tarball, downloaded once, sha256-verified, unpacked in a cache."""

    url: str
    sha256: str
    cache_dir: Path = field(default_factory=default_cache_dir)
    ca_bundle: str | None = None
    pkg_server: str = ""
    timeout: float = DEFAULT_TIMEOUT_S

    def julia_binary(self) -> Path:
        """Download, verify and unpack (once per checksum); return the `julia` executable."""
        root = self.cache_dir / "dist" / self.sha256.lower().removeprefix("sha256:")
        if not (root / ".complete").exists():
            root.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=root.parent, prefix=".tmp-") as tmp:
                archive = Path(tmp) / "julia.tar.gz"
                self._download(archive)
                verify_sha256(archive, self.sha256)  # before unpacking anything
                unpacked = Path(tmp) / "unpacked"
                extract_tarball(archive, unpacked)
                (unpacked / ".complete").touch()
                shutil.rmtree(root, ignore_errors=True)
                unpacked.rename(root)  # atomic: a half-unpacked tree is never used
        return find_julia_binary(root)

    def _download(self, dest: Path) -> None:
        context = ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else None
        with urllib.request.urlopen(self.url, timeout=300, context=context) as resp, dest.open("wb") as out:
            shutil.copyfileobj(resp, out)

    def run_script(self, script: Path, out_dir: Path, args: Sequence[str]) -> str:
        julia = self.julia_binary()
        depot = self.cache_dir / "depot"
        depot.mkdir(parents=True, exist_ok=True)
        extra = {"JULIA_DEPOT_PATH": f"{depot}:"}
        if self.ca_bundle:
            extra["JULIA_SSL_CA_ROOTS_PATH"] = self.ca_bundle
        proc = subprocess.run(
            [str(julia), "--startup-file=no", "--history-file=no", str(script), str(out_dir), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **_julia_env(extra, self.pkg_server)},
            timeout=self.timeout,
            check=False,
        )
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise JuliaResolveError(f"{julia} failed (exit {proc.returncode}):\n{_tail(output)}")
        return output


def extract_tarball(archive: Path, dest: Path) -> None:
    """Unpack with the `data` filter: no absolute paths, no links leaving `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


def find_julia_binary(root: Path) -> Path:
    """`bin/julia` at the top of `root` or one directory down (release tarballs: `julia-1.10.x/`)."""
    for candidate in [root / "bin" / "julia", *sorted(root.glob("*/bin/julia"))]:
        if candidate.is_file():
            return candidate
    raise JuliaResolveError(f"no bin/julia in the unpacked tarball at {root}")


def julia_runner(
    julia_version: str, *, url: str = "", sha256: str = "", image: str = "", ca_bundle: str = "", pkg_server: str = ""
) -> JuliaRunner:
    """Tarball runner when a URL is set (needs its sha256), else Docker (the image, or julia:<version>)."""
    if url:
        if not sha256:
            raise ValueError(f"{URL_ENV} is set but {SHA256_ENV} is not: refusing an unverified download")
        return TarballJuliaRunner(url=url, sha256=sha256, ca_bundle=ca_bundle or None, pkg_server=pkg_server)
    return DockerJuliaRunner(image=image or f"julia:{julia_version}", ca_bundle=ca_bundle or None, pkg_server=pkg_server)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------- resolution


def resolve_julia_env(
    packages: Sequence[str],
    julia_version: str,
    out_dir: Path,
    runner: JuliaRunner | None = None,
    *,
    script: Path = RESOLVE_SCRIPT,
) -> JuliaEnv:
    """Resolve `packages` freshly with Julia's Pkg into `out_dir`/{Project,Manifest}.toml.

    Existing env files in `out_dir` are removed first: an old Manifest would pin old versions.
    Raises `JuliaResolveError` if Pkg fails or the Manifest was written by another Julia minor.
    """
    wanted = list(dict.fromkeys(p.strip() for p in packages if p.strip()))  # real lists repeat names
    if not wanted:
        raise ValueError("no Julia packages to resolve")
    runner = runner or julia_runner(julia_version)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ENV_FILES:
        (out_dir / name).unlink(missing_ok=True)

    runner.run_script(Path(script), out_dir, wanted)

    missing = [n for n in ENV_FILES if not (out_dir / n).is_file()]
    if missing:
        raise JuliaResolveError(f"Julia wrote no {', '.join(missing)} in {out_dir}")
    project = (out_dir / "Project.toml").read_text(encoding="utf-8")
    manifest = (out_dir / "Manifest.toml").read_text(encoding="utf-8")
    written_by = manifest_julia_version(manifest)
    if written_by and not _same_minor(written_by, julia_version):
        raise JuliaResolveError(
            f"Manifest was written by Julia {written_by}, but the class uses Julia {julia_version}: "
            f"check {IMAGE_ENV} / {URL_ENV}"
        )
    versions = julia_packages_from_manifest(manifest)
    present = _manifest_entries(manifest)
    absent = [p for p in wanted if p not in present]
    warnings = [f"{p} is not in the Manifest" for p in absent]
    return JuliaEnv(project, manifest, versions, written_by, warnings)
