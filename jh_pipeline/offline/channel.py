"""Build, index and serve a small but real conda channel without conda-forge.

The channel holds a `python` package that turns an env into a virtual environment
over the host's Debian interpreter, an `r-base` package whose `bin/R` and `bin/Rscript`
point at Debian's R (`r-base-core`, installed in the image through an apt list),
PyPI wheels converted into conda packages (with their dependency closure), and the
stand-ins of `metapackages.py` (`jupyterhub-singleuser`, `xeus-sqlite`). The production
code path (solve, lock, install) runs against it unchanged; see DESIGN.md, "Hermetic test profile".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.parser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from jh_pipeline.offline.conda_archive import PREFIX_PLACEHOLDER, TIMESTAMP_MS, FileEntry, info_files, write_tar_bz2
from jh_pipeline.offline.metapackages import (
    R_IRKERNEL_VERSION, XEUS_SQLITE_VERSION, build_r_irkernel_metapackage, build_singleuser_metapackage,
    build_xeus_sqlite_package,
)
from jh_pipeline.offline.wheel_pins import CLOSURE_PINS

# Pinned so that repeated sessions hit the cache and the tests are reproducible; their
# dependencies are added to the channel (at the versions of CLOSURE_PINS where they fit).
# What class tests install: pure Python; two `six` versions let tests exercise version pins.
CLASS_TEST_WHEELS: tuple[str, ...] = (
    "pip==24.0",
    "six==1.16.0",
    "six==1.17.0",
    "packaging==24.1",
    "idna==3.7",
    "attrs==23.2.0",
    "tabulate==0.9.0",
    "toolz==0.12.1",
    "pymysql==1.1.1",  # the Python client of MySQL classes
)
# The notebook server stack (common/server_env) and the plugins of requirements/common; with
# compiled dependencies (pyzmq, tornado, sqlalchemy, ...) as cp311/abi3 linux-64 packages.
SERVER_STACK_WHEELS: tuple[str, ...] = (
    "ipykernel==6.29.5",  # also what class images register their kernel with
    "jupyterlab==4.6.6",
    "notebook==7.6.5",
    "jupyter-server==2.21.1",
    "jupyterhub==6.1.1",  # + the `jupyterhub-singleuser` metapackage of the same version
    "nbconvert==7.17.2",
    "nbgitpuller==1.3.0",
    "jupyter-server-proxy==4.6.0",
)
DEFAULT_WHEELS: tuple[str, ...] = CLASS_TEST_WHEELS + SERVER_STACK_WHEELS

CACHE_ENV = "JH_OFFLINE_CACHE"
DEFAULT_PYTHON_EXE = Path("/usr/bin/python3.11")
# Bump when the package layout written below changes: it keys the package cache.
CONVERTER_VERSION = "4"
_NOARCH_BUILD = "pyhjh_0"
_PYTHON_BUILD = "hjhvenv_1"  # _1: user site enabled
# The `r-base` stand-in: Debian bookworm's r-base-core is 4.2.2 (4.2.2.20221110-2).
DEFAULT_R_BIN = Path("/usr/bin")
DEFAULT_R_VERSION = "4.2.2"
_R_BUILD = "hjhdebian_0"


@dataclass(frozen=True)
class BuiltChannel:
    """A channel directory on disk, indexed, with what it contains."""

    path: Path
    python_version: str
    packages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> versions

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.packages))


def offline_cache_dir() -> Path:
    """Cache root for wheels and built packages (env `JH_OFFLINE_CACHE`)."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "jh_pipeline" / "offline"


# --------------------------------------------------------------------------- python


def interpreter_version(python_exe: Path = DEFAULT_PYTHON_EXE) -> str:
    """Full version (e.g. `3.11.2`) of the interpreter the env will wrap."""
    out = subprocess.run(
        [str(python_exe), "-c", "import platform; print(platform.python_version())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def python_package_files(version: str, python_exe: Path = DEFAULT_PYTHON_EXE) -> list[FileEntry]:
    """Files making the env a venv over `python_exe` (pure: no filesystem access)."""
    major_minor = ".".join(version.split(".")[:2])
    exe_name = f"python{major_minor}"
    pyvenv = (
        f"home = {python_exe.parent}\n"
        # true, like a conda env's own Python: `pip install --user` (the user site) works in class
        # images; the wrapped interpreter's system site is Debian's, empty in the images here.
        "include-system-site-packages = true\n"
        f"version = {version}\n"
    )
    return [
        FileEntry("pyvenv.cfg", pyvenv.encode()),
        FileEntry(f"bin/{exe_name}", link_target=str(python_exe)),
        FileEntry("bin/python", link_target=exe_name),
        FileEntry("bin/python3", link_target=exe_name),
        # Like CPython's own README there: the env has its site-packages even without packages.
        FileEntry(
            f"lib/{exe_name}/site-packages/README.txt",
            b"This directory exists so that 3rd party packages can be installed here.\n",
        ),
    ]


def build_python_package(out_dir: Path, python_exe: Path = DEFAULT_PYTHON_EXE) -> Path:
    """Write the linux-64 `python` package into `out_dir`; returns the archive path."""
    version = interpreter_version(python_exe)
    file_name = f"python-{version}-{_PYTHON_BUILD}.tar.bz2"
    destination = out_dir / file_name
    if destination.exists():
        return destination
    out_dir.mkdir(parents=True, exist_ok=True)
    files = python_package_files(version, python_exe)
    index = {
        "name": "python",
        "version": version,
        "build": _PYTHON_BUILD,
        "build_number": 0,
        "depends": [],
        "arch": "x86_64",
        "platform": "linux",
        "subdir": "linux-64",
        "license": "PSF-2.0",
        "timestamp": TIMESTAMP_MS,
    }
    about = {"summary": f"venv over {python_exe} (hermetic test channel)", "license": "PSF-2.0"}
    write_tar_bz2(destination, files, info_files(index, files, {"about.json": about}))
    return destination


# --------------------------------------------------------------------------- R


def r_package_files(r_bin: Path = DEFAULT_R_BIN) -> list[FileEntry]:
    """`bin/R` and `bin/Rscript` as softlinks to Debian's R (pure: no filesystem access).

    The links dangle until the image installs `r-base-core` (apt), as the class env is installed
    in a build stage without R. Debian's R keeps its own library paths (/usr/lib/R/library,
    /usr/lib/R/site-library, /usr/local/lib/R/site-library), so Debian's `r-cran-*` packages and
    what packages.R installs are what the env's R loads.
    """
    return [
        FileEntry("bin/R", link_target=str(r_bin / "R")),
        FileEntry("bin/Rscript", link_target=str(r_bin / "Rscript")),
    ]


def build_r_package(out_dir: Path, version: str = DEFAULT_R_VERSION, r_bin: Path = DEFAULT_R_BIN) -> Path:
    """Write the linux-64 `r-base` stand-in into `out_dir`; returns the archive path."""
    destination = out_dir / f"r-base-{version}-{_R_BUILD}.tar.bz2"
    if destination.exists():
        return destination
    out_dir.mkdir(parents=True, exist_ok=True)
    files = r_package_files(r_bin)
    index = {
        "name": "r-base",
        "version": version,
        "build": _R_BUILD,
        "build_number": 0,
        "depends": [],
        "arch": "x86_64",
        "platform": "linux",
        "subdir": "linux-64",
        "license": "GPL-2.0-or-later",
        "timestamp": TIMESTAMP_MS,
    }
    about = {"summary": f"R from {r_bin} (Debian r-base-core; hermetic test channel)", "license": "GPL-2.0-or-later"}
    write_tar_bz2(destination, files, info_files(index, files, {"about.json": about}))
    return destination


# --------------------------------------------------------------------------- wheels


@dataclass(frozen=True)
class WheelMetadata:
    name: str  # conda name (PEP 503 normalised)
    version: str
    requires_python: str | None
    requires_dist: tuple[str, ...]
    summary: str
    license: str


def read_wheel_metadata(wheel: zipfile.ZipFile) -> WheelMetadata:
    dist_info = _dist_info_dir(wheel)
    message = email.parser.Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
    return WheelMetadata(
        name=canonicalize_name(message["Name"]),
        version=message["Version"],
        requires_python=message.get("Requires-Python"),
        requires_dist=tuple(message.get_all("Requires-Dist") or ()),
        summary=message.get("Summary") or "",
        license=message.get("License-Expression") or message.get("License") or "",
    )


def _dist_info_dir(wheel: zipfile.ZipFile) -> str:
    tops = {PurePosixPath(n).parts[0] for n in wheel.namelist()}
    found = [t for t in tops if t.endswith(".dist-info")]
    if len(found) != 1:
        raise ValueError(f"{wheel.filename}: expected one .dist-info directory, found {found}")
    return found[0]


def _marker_env(python_version: str, extra: str = "") -> dict[str, str]:
    # Noarch packages are solved for linux-64 images first; students get the same pins.
    return {
        "python_version": ".".join(python_version.split(".")[:2]),
        "python_full_version": python_version,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": extra,
    }


def pep440_to_conda(specifier: str) -> str:
    """Translate a PEP 440 specifier set into a conda version spec (`""` = any)."""
    parts = []
    for spec in SpecifierSet(specifier):
        operator = "==" if spec.operator == "===" else spec.operator
        parts.append(f"{operator}{spec.version}")
    return ",".join(sorted(parts))


def active_requirements(meta: WheelMetadata, python_version: str, extra: str | None = None) -> list[Requirement]:
    """Requires-Dist entries that apply on the image platform.

    Without `extra`: the unconditional ones. With it: only those that the extra adds.
    """
    base = _marker_env(python_version)
    out = []
    for line in meta.requires_dist:
        requirement = Requirement(line)
        marker = requirement.marker
        if extra is None:
            if marker is None or marker.evaluate(base):
                out.append(requirement)
        elif marker is not None and marker.evaluate(_marker_env(python_version, extra)) and not marker.evaluate(base):
            out.append(requirement)
    return out


def _conda_spec(requirement: Requirement) -> str:
    return f"{canonicalize_name(requirement.name)} {pep440_to_conda(str(requirement.specifier))}".strip()


def conda_depends(meta: WheelMetadata, python_version: str, extra_depends: Iterable[str] = ()) -> list[str]:
    """Run dependencies: `python` (from Requires-Python), unconditional Requires-Dist, `extra_depends`."""
    python_spec = pep440_to_conda(meta.requires_python or "")
    depends = [f"python {python_spec}".strip(), *extra_depends]
    depends += [_conda_spec(r) for r in active_requirements(meta, python_version)]
    return sorted(set(depends))


def _entry_points(wheel: zipfile.ZipFile, dist_info: str, python_version: str) -> list[str]:
    """Console/GUI scripts, minus ones versioned for another Python (pip's `pip3.10`)."""
    major_minor = ".".join(python_version.split(".")[:2])
    try:
        text = wheel.read(f"{dist_info}/entry_points.txt").decode()
    except KeyError:
        return []
    points, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif line and not line.startswith("#") and section in ("console_scripts", "gui_scripts"):
            name, _, target = line.partition("=")
            versioned = re.fullmatch(r".+?(\d+\.\d+)", name.strip())
            if versioned is None or versioned.group(1) == major_minor:
                points.append(f"{name.strip()} = {target.strip()}")
    return sorted(points)


def entry_point_script(target: str) -> bytes:
    """`bin/<name>` of a console script (`module:attr`), as conda writes them for noarch packages."""
    module, _, attr = target.partition(":")
    attr = attr.split("[")[0].strip()  # `[extras]` after the callable: nothing to install here
    return (
        f"#!{PREFIX_PLACEHOLDER}/bin/python\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n\n"
        f"from {module.strip()} import {attr.split('.')[0]}\n\n"
        'if __name__ == "__main__":\n'
        "    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n"
        f"    sys.exit({attr}())\n"
    ).encode()


def _script_file(path: str, data: bytes) -> FileEntry:
    """A wheel's `.data/scripts` member: `#!python` becomes the env's python (wheel spec)."""
    match = re.match(rb"#!pythonw?(\r?\n)", data)
    if match is None:
        return FileEntry(path, data, executable=True)
    fixed = f"#!{PREFIX_PLACEHOLDER}/bin/python".encode() + match.group(1) + data[match.end() :]
    return FileEntry(path, fixed, executable=True, has_prefix=True)


def wheel_files(wheel: zipfile.ZipFile) -> list[FileEntry]:
    """Map wheel members onto the `noarch: python` layout (site-packages/, python-scripts/).

    `.data/data/` lands at the prefix (share/jupyter/labextensions/..., etc/jupyter/...), as pip
    installs it, so that the extensions of a wheel are enabled once installed.
    """
    dist_info = _dist_info_dir(wheel)
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    files: list[FileEntry] = []
    for info in wheel.infolist():
        if info.is_dir():
            continue
        name = info.filename
        if name.startswith(f"{data_dir}/"):
            kind, _, rest = name[len(data_dir) + 1 :].partition("/")
            target = {"purelib": "site-packages/", "platlib": "site-packages/", "scripts": "python-scripts/", "data": ""}.get(kind)
            if target is None:  # headers: nothing in a pure env needs them
                continue
            path = target + rest
        else:
            path = f"site-packages/{name}"
        if path.startswith("python-scripts/"):
            files.append(_script_file(path, wheel.read(info)))
            continue
        executable = bool((info.external_attr >> 16) & 0o111)
        files.append(FileEntry(path, wheel.read(info), executable=executable))
    # Tell pip who owns these files, as conda-forge packages do.
    files = [f for f in files if f.path != f"site-packages/{dist_info}/INSTALLER"]
    files.append(FileEntry(f"site-packages/{dist_info}/INSTALLER", b"conda\n"))
    return files


def conda_file_name(meta: WheelMetadata, build: str = _NOARCH_BUILD) -> str:
    return f"{meta.name}-{meta.version}-{build}.tar.bz2"


def _is_pure(wheel_path: Path) -> bool:
    _, _, _, tags = parse_wheel_filename(wheel_path.name)
    return any(t.abi == "none" and t.platform == "any" for t in tags)


def _platform_layout(files: list[FileEntry], major_minor: str) -> list[FileEntry]:
    """A compiled wheel becomes a linux-64 package: files at their real paths in the env."""
    moved = []
    for entry in files:
        path = entry.path
        if path.startswith("site-packages/"):
            path = f"lib/python{major_minor}/" + path
        elif path.startswith("python-scripts/"):
            path = "bin/" + path.removeprefix("python-scripts/")
        moved.append(FileEntry(path, entry.data, executable=entry.executable, has_prefix=entry.has_prefix))
    return moved


def _build_string(pure: bool, major_minor: str, extra_depends: Sequence[str]) -> str:
    """`pyhjh_0` / `py311hjh_0`; dependencies from extras add a hash, which keys the cache."""
    digest = hashlib.sha256("\n".join(sorted(extra_depends)).encode()).hexdigest()[:8] if extra_depends else ""
    return f"pyhjh{digest}_0" if pure else f"py{major_minor.replace('.', '')}hjh{digest}_0"


def wheel_to_conda(wheel_path: Path, out_dir: Path, python_version: str, extra_depends: Sequence[str] = ()) -> Path:
    """Convert a wheel into a conda package in `out_dir`.

    Pure-Python wheels become `noarch: python` packages; compiled CPython wheels for this
    interpreter (e.g. pyzmq, tornado) become linux-64 packages pinned to its minor version,
    with `bin/` scripts for their console entry points. `extra_depends` are conda specs
    added to the wheel's own (what its `dep[extra]` requirements pull in).
    """
    pure = _is_pure(wheel_path)
    major_minor = ".".join(python_version.split(".")[:2])
    if not pure:
        _, _, _, tags = parse_wheel_filename(wheel_path.name)
        wanted = f"cp{major_minor.replace('.', '')}"
        if not any((t.interpreter == wanted or t.abi == "abi3") and "x86_64" in t.platform for t in tags):
            raise ValueError(f"{wheel_path.name}: neither pure Python nor a {wanted} x86_64 wheel")
        out_dir = out_dir.parent / "linux-64"
    build = _build_string(pure, major_minor, extra_depends)
    with zipfile.ZipFile(wheel_path) as wheel:
        meta = read_wheel_metadata(wheel)
        destination = out_dir / conda_file_name(meta, build)
        if destination.exists():
            return destination
        out_dir.mkdir(parents=True, exist_ok=True)
        files = wheel_files(wheel)
        entry_points = _entry_points(wheel, _dist_info_dir(wheel), python_version)
    depends = conda_depends(meta, python_version, extra_depends)
    if not pure:
        files = _platform_layout(files, major_minor)
        scripts = {name.strip(): target for name, _, target in (p.partition("=") for p in entry_points)}
        files += [FileEntry(f"bin/{name}", entry_point_script(target), executable=True, has_prefix=True)
                  for name, target in scripts.items()]
        depends = [d for d in depends if d.split()[0] != "python"] + [f"python {major_minor}.*"]
    index = {
        "name": meta.name,
        "version": meta.version,
        "build": build,
        "build_number": 0,
        "depends": depends,
        "subdir": "noarch" if pure else "linux-64",
        "license": meta.license[:200],
        "timestamp": TIMESTAMP_MS,
    }
    extra: dict[str, object] = {"about.json": {"summary": meta.summary, "license": meta.license[:200], "source": wheel_path.name}}
    if pure:
        index["noarch"] = "python"
        extra["link.json"] = {"noarch": {"type": "python", "entry_points": entry_points}, "package_metadata_version": 1}
    write_tar_bz2(destination, files, info_files(index, files, extra))
    return destination


def _fits_python(wheel_path: Path, python_version: str | None) -> bool:
    if python_version is None:
        return True
    with zipfile.ZipFile(wheel_path) as wheel:
        requires = read_wheel_metadata(wheel).requires_python
    return not requires or SpecifierSet(requires).contains(python_version, prereleases=True)


def _cached_wheel(requirement: Requirement, wheels_dir: Path, python_version: str | None = None) -> Path | None:
    """Best cached wheel satisfying `requirement`, so warm sessions need no network."""
    candidates: list[tuple[Version, Path]] = []
    for path in wheels_dir.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(path.name)
        if name == canonicalize_name(requirement.name) and requirement.specifier.contains(version, prereleases=False):
            candidates.append((version, path))
    for _, path in sorted(candidates, reverse=True):
        if _fits_python(path, python_version):
            return path
    return None


def download_wheel(requirement: str, wheels_dir: Path, python_version: str | None = None) -> Path:
    """A wheel for `requirement` from the cache, else `pip download` from the index.

    pip picks the wheel for this machine (pure, or cp311/abi3 manylinux for Debian's glibc).
    `python_version` (the wrapped interpreter's, e.g. 3.11.2) excludes wheels whose
    Requires-Python it does not meet, whatever Python runs this code.
    """
    parsed = Requirement(requirement)
    wheels_dir.mkdir(parents=True, exist_ok=True)
    cached = _cached_wheel(parsed, wheels_dir, python_version)
    if cached is not None:
        return cached
    target_python = ["--python-version", python_version] if python_version else []
    with tempfile.TemporaryDirectory(dir=wheels_dir) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
             *target_python, "--dest", tmp, requirement],
            check=True,
        )
        (downloaded,) = Path(tmp).glob("*.whl")
        target = wheels_dir / downloaded.name
        shutil.move(downloaded, target)
    return target


@dataclass(frozen=True)
class ResolvedWheel:
    path: Path
    meta: WheelMetadata


def _pick(chosen: Mapping[str, Mapping[Version, ResolvedWheel]], requirement: Requirement) -> ResolvedWheel | None:
    """The highest collected wheel that satisfies `requirement`, if any."""
    versions = chosen.get(canonicalize_name(requirement.name), {})
    matching = [v for v in versions if requirement.specifier.contains(v, prereleases=True)]
    return versions[max(matching)] if matching else None


def _download_spec(requirement: Requirement, pins: Mapping[str, str]) -> str:
    name = canonicalize_name(requirement.name)
    pinned = pins.get(name)
    if pinned is not None and requirement.specifier.contains(pinned, prereleases=True):
        return f"{name}=={pinned}"
    return f"{name}{requirement.specifier}"


def resolve_wheels(
    requirements: Iterable[str],
    wheels_dir: Path,
    python_version: str,
    *,
    with_dependencies: bool = True,
    pins: Mapping[str, str] = CLOSURE_PINS,
) -> list[ResolvedWheel]:
    """The wheels of `requirements` and (optionally) their dependency closure, extras included.

    A dependency that a collected wheel satisfies adds nothing; otherwise its version is the
    one in `pins` when that fits, else the newest (from the cache, else PyPI).
    """
    chosen: dict[str, dict[Version, ResolvedWheel]] = {}
    pending = deque(Requirement(r) for r in requirements)
    expanded: set[tuple[str, str, str]] = set()  # (name, version, extra)
    while pending:
        requirement = pending.popleft()
        resolved = _pick(chosen, requirement)
        if resolved is None:
            path = download_wheel(_download_spec(requirement, pins), wheels_dir, python_version)
            with zipfile.ZipFile(path) as opened:
                meta = read_wheel_metadata(opened)
            resolved = ResolvedWheel(path, meta)
            chosen.setdefault(meta.name, {})[Version(meta.version)] = resolved
            if with_dependencies:
                pending.extend(active_requirements(meta, python_version))
        for extra in sorted(requirement.extras) if with_dependencies else ():
            key = (resolved.meta.name, resolved.meta.version, extra)
            if key not in expanded:
                expanded.add(key)
                pending.extend(active_requirements(resolved.meta, python_version, extra))
    return [wheel for versions in chosen.values() for _, wheel in sorted(versions.items())]


def extra_depends(meta: WheelMetadata, wheels: Sequence[ResolvedWheel], python_version: str) -> list[str]:
    """Conda specs for what `meta`'s `dep[extra]` requirements add (conda has no extras)."""
    chosen: dict[str, dict[Version, ResolvedWheel]] = {}
    for wheel in wheels:
        chosen.setdefault(wheel.meta.name, {})[Version(wheel.meta.version)] = wheel
    out: set[str] = set()
    pending = deque(r for r in active_requirements(meta, python_version) if r.extras)
    seen: set[tuple[str, str]] = set()
    while pending:
        requirement = pending.popleft()
        target = _pick(chosen, requirement)
        for extra in sorted(requirement.extras):
            if target is None or (target.meta.name, extra) in seen:
                continue
            seen.add((target.meta.name, extra))
            for added in active_requirements(target.meta, python_version, extra):
                out.add(_conda_spec(added))
                if added.extras:
                    pending.append(added)
    # `foo[a]` needing `foo[b]` must not make foo depend on itself.
    return sorted(s for s in out if s.split()[0] != meta.name)


# --------------------------------------------------------------------------- channel


def _run_sync(coro: Coroutine[Any, Any, None]) -> None:
    """asyncio.run, also from code that already runs inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


async def index_channel(channel_dir: Path) -> None:
    """Write `repodata.json` for every subdir with py-rattler's indexer."""
    from rattler.index import index_fs  # local import: the rest of this module needs no rattler

    for subdir in ("noarch", "linux-64"):
        (channel_dir / subdir).mkdir(parents=True, exist_ok=True)
    # Plain repodata.json (+ .zst) is what every conda client reads; shards are optional.
    await index_fs(channel_dir, write_zst=True, write_shards=False, force=True)


def _reset_channel_dir(channel_dir: Path) -> None:
    """Empty a previous build of the channel; refuse to wipe a directory that is not one."""
    if channel_dir.exists() and any(channel_dir.iterdir()) and not (channel_dir / "noarch").is_dir():
        raise ValueError(f"{channel_dir} is not empty and is not a conda channel; refusing to overwrite it")
    for subdir in ("noarch", "linux-64"):
        shutil.rmtree(channel_dir / subdir, ignore_errors=True)


def build_channel(
    channel_dir: Path,
    requirements: Iterable[str] = DEFAULT_WHEELS,
    *,
    cache: Path | None = None,
    python_exe: Path = DEFAULT_PYTHON_EXE,
    with_dependencies: bool = True,
    with_r: bool = True,
) -> BuiltChannel:
    """Build (from cache where possible) and index a channel in `channel_dir`.

    `requirements` are pip requirement strings of wheels (pure, or compiled for the wrapped
    interpreter). With `with_dependencies`, missing run dependencies are added until the
    channel is closed. With `with_r`, the channel also holds the `r-base` stand-in (Debian's R).
    With `jupyterhub` in the channel it gets `jupyterhub-singleuser`; with `ipykernel`, the
    `xeus-sqlite` stand-in.
    """
    cache = cache or offline_cache_dir()
    wheels_dir = cache / "wheels"
    pkgs_dir = cache / f"pkgs-v{CONVERTER_VERSION}"
    python_version = interpreter_version(python_exe)

    python_pkg = build_python_package(pkgs_dir / "linux-64", python_exe)
    archives: dict[str, Path] = {}  # file name -> cached archive
    archives[python_pkg.name] = python_pkg
    packages: dict[str, set[str]] = {"python": {python_version}}
    if with_r:
        irkernel = build_r_irkernel_metapackage(pkgs_dir / "noarch", DEFAULT_R_VERSION)
        archives[irkernel.name] = irkernel
        packages["r-irkernel"] = {R_IRKERNEL_VERSION}
        r_pkg = build_r_package(pkgs_dir / "linux-64")
        archives[r_pkg.name] = r_pkg
        packages["r-base"] = {DEFAULT_R_VERSION}

    wheels = resolve_wheels(requirements, wheels_dir, python_version, with_dependencies=with_dependencies)
    for wheel in wheels:
        extras = extra_depends(wheel.meta, wheels, python_version) if with_dependencies else []
        archive = wheel_to_conda(wheel.path, pkgs_dir / "noarch", python_version, extras)
        archives[archive.name] = archive
        packages.setdefault(wheel.meta.name, set()).add(wheel.meta.version)

    stand_ins = []
    if "jupyterhub" in packages:
        stand_ins += [build_singleuser_metapackage(pkgs_dir / "noarch", v) for v in packages["jupyterhub"]]
        packages["jupyterhub-singleuser"] = set(packages["jupyterhub"])
    if "ipykernel" in packages:
        stand_ins.append(build_xeus_sqlite_package(pkgs_dir / "noarch"))
        packages["xeus-sqlite"] = {XEUS_SQLITE_VERSION}
    archives.update((archive.name, archive) for archive in stand_ins)

    _reset_channel_dir(channel_dir)
    for name, archive in archives.items():
        subdir = "linux-64" if archive.parent.name == "linux-64" else "noarch"
        (channel_dir / subdir).mkdir(parents=True, exist_ok=True)
        shutil.copy2(archive, channel_dir / subdir / name)
    _run_sync(index_channel(channel_dir))
    return BuiltChannel(
        path=channel_dir,
        python_version=python_version,
        packages={name: tuple(sorted(versions, key=Version)) for name, versions in sorted(packages.items())},
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return  # keep test output clean


def serve_directory(root: Path, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve `root` over HTTP on a loopback port (0: a free one); returns (base url, stop)."""
    if not re.fullmatch(r"127(\.\d{1,3}){3}|localhost", host):
        raise ValueError("the offline channel only listens on loopback")
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    # A short poll interval makes stop() quick (shutdown waits for the next poll).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="jh-offline-channel", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_address[1]}", stop


def serve_channel(channel_dir: Path, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve `channel_dir` over HTTP on a loopback port (0: a free one); returns (channel url, stop).

    The parent directory is served, so the channel URL ends in the directory's name and
    `<base url>` also works as a channel alias with the name as channel (like conda-forge).
    """
    base, stop = serve_directory(channel_dir.parent, host, port)
    return f"{base}/{channel_dir.name}", stop
