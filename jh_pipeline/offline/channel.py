"""Build, index and serve a small but real conda channel without conda-forge.

The channel holds a `python` package that turns an env into a virtual environment
over the host's Debian interpreter, an `r-base` package whose `bin/R` and `bin/Rscript`
point at Debian's R (`r-base-core`, installed in the image through an apt list), plus
PyPI wheels converted into conda packages. The production code path (solve, lock, install)
runs against it unchanged; see DESIGN.md, "Hermetic test profile".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.parser
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

# Pinned so that repeated sessions hit the cache and the tests are reproducible.
# All are pure-Python wheels; two `six` versions let tests exercise version pins.
DEFAULT_WHEELS: tuple[str, ...] = (
    "pip==24.0",
    "ipykernel==6.29.5",  # with its compiled deps (pyzmq, tornado, ...): class images register a kernel
    "six==1.16.0",
    "six==1.17.0",
    "packaging==24.1",
    "idna==3.7",
    "attrs==23.2.0",
    "tabulate==0.9.0",
    "toolz==0.12.1",
    "pymysql==1.1.1",  # the Python client of MySQL classes (pure Python)
)

CACHE_ENV = "JH_OFFLINE_CACHE"
DEFAULT_PYTHON_EXE = Path("/usr/bin/python3.11")
# Bump when the package layout written below changes: it keys the package cache.
CONVERTER_VERSION = "2"
# Fixed metadata so that rebuilt archives are byte-identical (stable md5s in locks).
_TIMESTAMP_MS = 1_700_000_000_000
_TAR_MTIME = _TIMESTAMP_MS // 1000
_NOARCH_BUILD = "pyhjh_0"
_PYTHON_BUILD = "hjhvenv_0"
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


@dataclass(frozen=True)
class _FileEntry:
    path: str  # relative to the prefix, posix
    data: bytes | None = None  # None for softlinks
    link_target: str | None = None
    executable: bool = False


def offline_cache_dir() -> Path:
    """Cache root for wheels and built packages (env `JH_OFFLINE_CACHE`)."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "jh_pipeline" / "offline"


# --------------------------------------------------------------------------- archives


def _write_tar_bz2(destination: Path, files: Sequence[_FileEntry], info: Mapping[str, bytes]) -> None:
    """Write a deterministic `.tar.bz2` conda package (files, then `info/`)."""

    def base_info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        member = tarfile.TarInfo(name)
        member.type = kind
        member.mode = mode
        member.mtime = _TAR_MTIME
        member.uid = member.gid = 0
        member.uname = member.gname = ""
        return member

    # Unique temp name + rename: concurrent builders and crashes never leave half packages.
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=".", suffix=".partial")
    os.close(fd)
    tmp = Path(tmp_name)
    with tarfile.open(tmp, "w:bz2", format=tarfile.PAX_FORMAT) as archive:
        for entry in sorted(files, key=lambda e: e.path):
            if entry.link_target is not None:
                member = base_info(entry.path, tarfile.SYMTYPE, 0o777)
                member.linkname = entry.link_target
                archive.addfile(member)
                continue
            assert entry.data is not None
            member = base_info(entry.path, tarfile.REGTYPE, 0o755 if entry.executable else 0o644)
            member.size = len(entry.data)
            archive.addfile(member, io.BytesIO(entry.data))
        for name in sorted(info):
            member = base_info(f"info/{name}", tarfile.REGTYPE, 0o644)
            member.size = len(info[name])
            archive.addfile(member, io.BytesIO(info[name]))
    tmp.chmod(0o644)
    tmp.replace(destination)


def _info_files(index: Mapping[str, object], files: Sequence[_FileEntry], extra: Mapping[str, object]) -> dict[str, bytes]:
    """`info/index.json`, `info/paths.json`, `info/files` (+ extra json files)."""
    paths = []
    for entry in sorted(files, key=lambda e: e.path):
        if entry.link_target is not None:
            paths.append({"_path": entry.path, "path_type": "softlink"})
        else:
            assert entry.data is not None
            paths.append(
                {
                    "_path": entry.path,
                    "path_type": "hardlink",
                    "sha256": hashlib.sha256(entry.data).hexdigest(),
                    "size_in_bytes": len(entry.data),
                }
            )
    info: dict[str, bytes] = {
        "index.json": _json_bytes(index),
        "paths.json": _json_bytes({"paths": paths, "paths_version": 1}),
        "files": "".join(f"{p['_path']}\n" for p in paths).encode(),
    }
    info.update({name: _json_bytes(value) for name, value in extra.items()})
    return info


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


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


def python_package_files(version: str, python_exe: Path = DEFAULT_PYTHON_EXE) -> list[_FileEntry]:
    """Files making the env a venv over `python_exe` (pure: no filesystem access)."""
    major_minor = ".".join(version.split(".")[:2])
    exe_name = f"python{major_minor}"
    pyvenv = (
        f"home = {python_exe.parent}\n"
        "include-system-site-packages = false\n"
        f"version = {version}\n"
    )
    return [
        _FileEntry("pyvenv.cfg", pyvenv.encode()),
        _FileEntry(f"bin/{exe_name}", link_target=str(python_exe)),
        _FileEntry("bin/python", link_target=exe_name),
        _FileEntry("bin/python3", link_target=exe_name),
        # Like CPython's own README there: the env has its site-packages even without packages.
        _FileEntry(
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
        "timestamp": _TIMESTAMP_MS,
    }
    about = {"summary": f"venv over {python_exe} (hermetic test channel)", "license": "PSF-2.0"}
    _write_tar_bz2(destination, files, _info_files(index, files, {"about.json": about}))
    return destination


# --------------------------------------------------------------------------- R


def r_package_files(r_bin: Path = DEFAULT_R_BIN) -> list[_FileEntry]:
    """`bin/R` and `bin/Rscript` as softlinks to Debian's R (pure: no filesystem access).

    The links dangle until the image installs `r-base-core` (apt), as the class env is installed
    in a build stage without R. Debian's R keeps its own library paths (/usr/lib/R/library,
    /usr/lib/R/site-library, /usr/local/lib/R/site-library), so Debian's `r-cran-*` packages and
    what packages.R installs are what the env's R loads.
    """
    return [
        _FileEntry("bin/R", link_target=str(r_bin / "R")),
        _FileEntry("bin/Rscript", link_target=str(r_bin / "Rscript")),
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
        "timestamp": _TIMESTAMP_MS,
    }
    about = {"summary": f"R from {r_bin} (Debian r-base-core; hermetic test channel)", "license": "GPL-2.0-or-later"}
    _write_tar_bz2(destination, files, _info_files(index, files, {"about.json": about}))
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
        license=message.get("License") or "",
    )


def _dist_info_dir(wheel: zipfile.ZipFile) -> str:
    tops = {PurePosixPath(n).parts[0] for n in wheel.namelist()}
    found = [t for t in tops if t.endswith(".dist-info")]
    if len(found) != 1:
        raise ValueError(f"{wheel.filename}: expected one .dist-info directory, found {found}")
    return found[0]


def _marker_env(python_version: str) -> dict[str, str]:
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
        "extra": "",
    }


def pep440_to_conda(specifier: str) -> str:
    """Translate a PEP 440 specifier set into a conda version spec (`""` = any)."""
    parts = []
    for spec in SpecifierSet(specifier):
        operator = "==" if spec.operator == "===" else spec.operator
        parts.append(f"{operator}{spec.version}")
    return ",".join(sorted(parts))


def conda_depends(meta: WheelMetadata, python_version: str) -> list[str]:
    """Run dependencies: `python` (from Requires-Python) and unconditional Requires-Dist."""
    python_spec = pep440_to_conda(meta.requires_python or "")
    depends = [f"python {python_spec}".strip()]
    env = _marker_env(python_version)
    for line in meta.requires_dist:
        requirement = Requirement(line)
        if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate(env):
            continue
        version = pep440_to_conda(str(requirement.specifier))
        depends.append(f"{canonicalize_name(requirement.name)} {version}".strip())
    return sorted(set(depends))


def _requirement_strings(meta: WheelMetadata, python_version: str) -> list[str]:
    env = _marker_env(python_version)
    out = []
    for line in meta.requires_dist:
        requirement = Requirement(line)
        if requirement.marker is None or Marker(str(requirement.marker)).evaluate(env):
            out.append(f"{canonicalize_name(requirement.name)}{requirement.specifier}")
    return out


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


def wheel_files(wheel: zipfile.ZipFile) -> list[_FileEntry]:
    """Map wheel members onto the `noarch: python` layout (site-packages/, python-scripts/)."""
    dist_info = _dist_info_dir(wheel)
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    files: list[_FileEntry] = []
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
        executable = bool((info.external_attr >> 16) & 0o111) or path.startswith("python-scripts/")
        files.append(_FileEntry(path, wheel.read(info), executable=executable))
    # Tell pip who owns these files, as conda-forge packages do.
    files = [f for f in files if f.path != f"site-packages/{dist_info}/INSTALLER"]
    files.append(_FileEntry(f"site-packages/{dist_info}/INSTALLER", b"conda\n"))
    return files


def conda_file_name(meta: WheelMetadata, build: str = _NOARCH_BUILD) -> str:
    return f"{meta.name}-{meta.version}-{build}.tar.bz2"


def _is_pure(wheel_path: Path) -> bool:
    _, _, _, tags = parse_wheel_filename(wheel_path.name)
    return any(t.abi == "none" and t.platform == "any" for t in tags)


def _platform_layout(files: list[_FileEntry], major_minor: str) -> list[_FileEntry]:
    """A compiled wheel becomes a linux-64 package: files at their real paths in the env."""
    moved = []
    for entry in files:
        path = entry.path
        if path.startswith("site-packages/"):
            path = f"lib/python{major_minor}/" + path
        elif path.startswith("python-scripts/"):
            path = "bin/" + path.removeprefix("python-scripts/")
        moved.append(_FileEntry(path, entry.data, executable=entry.executable))
    return moved


def wheel_to_conda(wheel_path: Path, out_dir: Path, python_version: str) -> Path:
    """Convert a wheel into a conda package in `out_dir`.

    Pure-Python wheels become `noarch: python` packages; compiled CPython wheels for this
    interpreter (e.g. pyzmq, tornado) become linux-64 packages pinned to its minor version.
    """
    pure = _is_pure(wheel_path)
    major_minor = ".".join(python_version.split(".")[:2])
    if not pure:
        _, _, _, tags = parse_wheel_filename(wheel_path.name)
        wanted = f"cp{major_minor.replace('.', '')}"
        if not any((t.interpreter == wanted or t.abi == "abi3") and "x86_64" in t.platform for t in tags):
            raise ValueError(f"{wheel_path.name}: neither pure Python nor a {wanted} x86_64 wheel")
        out_dir = out_dir.parent / "linux-64"
    build = _NOARCH_BUILD if pure else f"py{major_minor.replace('.', '')}hjh_0"
    with zipfile.ZipFile(wheel_path) as wheel:
        meta = read_wheel_metadata(wheel)
        destination = out_dir / conda_file_name(meta, build)
        if destination.exists():
            return destination
        out_dir.mkdir(parents=True, exist_ok=True)
        files = wheel_files(wheel)
        entry_points = _entry_points(wheel, _dist_info_dir(wheel), python_version) if pure else []
    depends = conda_depends(meta, python_version)
    if not pure:
        files = _platform_layout(files, major_minor)
        depends = [d for d in depends if d.split()[0] != "python"] + [f"python {major_minor}.*"]
    index = {
        "name": meta.name,
        "version": meta.version,
        "build": build,
        "build_number": 0,
        "depends": depends,
        "subdir": "noarch" if pure else "linux-64",
        "license": meta.license[:200],
        "timestamp": _TIMESTAMP_MS,
    }
    extra: dict[str, object] = {"about.json": {"summary": meta.summary, "license": meta.license[:200], "source": wheel_path.name}}
    if pure:
        index["noarch"] = "python"
        extra["link.json"] = {"noarch": {"type": "python", "entry_points": entry_points}, "package_metadata_version": 1}
    _write_tar_bz2(destination, files, _info_files(index, files, extra))
    return destination


def _cached_wheel(requirement: Requirement, wheels_dir: Path) -> Path | None:
    """Best cached wheel satisfying `requirement`, so warm sessions need no network."""
    best: tuple[Version, Path] | None = None
    for path in wheels_dir.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(path.name)
        if name == canonicalize_name(requirement.name) and requirement.specifier.contains(version, prereleases=False):
            if best is None or version > best[0]:
                best = (version, path)
    return best[1] if best else None


def download_wheel(requirement: str, wheels_dir: Path) -> Path:
    """A pure wheel for `requirement` from the cache, else `pip download` from the index."""
    parsed = Requirement(requirement)
    wheels_dir.mkdir(parents=True, exist_ok=True)
    cached = _cached_wheel(parsed, wheels_dir)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(dir=wheels_dir) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
             "--dest", tmp, requirement],
            check=True,
        )
        (downloaded,) = Path(tmp).glob("*.whl")
        target = wheels_dir / downloaded.name
        shutil.move(downloaded, target)
    return target


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

    `requirements` are pip requirement strings of pure-Python wheels. With
    `with_dependencies`, missing run dependencies are added until the channel is closed.
    With `with_r`, the channel also holds the `r-base` stand-in (Debian's R).
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
        r_pkg = build_r_package(pkgs_dir / "linux-64")
        archives[r_pkg.name] = r_pkg
        packages["r-base"] = {DEFAULT_R_VERSION}

    pending = list(requirements)
    seen: set[str] = set()
    while pending:
        requirement = pending.pop(0)
        if requirement in seen:
            continue
        seen.add(requirement)
        wheel = download_wheel(requirement, wheels_dir)
        archive = wheel_to_conda(wheel, pkgs_dir / "noarch", python_version)
        archives[archive.name] = archive
        with zipfile.ZipFile(wheel) as opened:
            meta = read_wheel_metadata(opened)
        packages.setdefault(meta.name, set()).add(meta.version)
        if with_dependencies:
            pending.extend(r for r in _requirement_strings(meta, python_version) if Requirement(r).name not in packages)

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
