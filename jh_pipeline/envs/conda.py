"""Solve, lock and render a class's conda environment with py-rattler.

Effects (network, disk) live in `solve_lock*`, `check_platform` and `write_*`; the renderers are
pure functions of the solved records. Installing a lock is the image's job:
images/scripts/install-conda-lock.py, the one installer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import hashlib
import re
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from rattler import (
    BuildString,
    Channel,
    ChannelConfig,
    Gateway,
    GenericVirtualPackage,
    LockChannel,
    LockFile,
    LockPlatform,
    MatchSpec,
    PackageName,
    PackageRecord,
    RepoDataRecord,
    Version,
    solve,
)
from rattler.exceptions import FetchRepoDataError, GatewayError, InvalidMatchSpecError, SolverError

from jh_pipeline.settings import DEFAULT_CHANNEL_ALIAS

LOCK_ENVIRONMENT = "default"

# Explicit, not detected: the lock must not depend on the machine that solved it.
# Strings are `name=version=build`, as conda prints virtual packages.
DEFAULT_VIRTUAL_PACKAGES: Mapping[str, tuple[str, ...]] = {
    "linux-64": ("__unix=0=0", "__linux=5.15=0", "__glibc=2.35=0", "__archspec=1=x86_64"),
    "linux-aarch64": ("__unix=0=0", "__linux=5.15=0", "__glibc=2.35=0", "__archspec=1=aarch64"),
    "osx-64": ("__unix=0=0", "__osx=13.0=0", "__archspec=1=x86_64"),
    "osx-arm64": ("__unix=0=0", "__osx=13.0=0", "__archspec=1=m1"),
    "win-64": ("__win=0=0", "__archspec=1=x86_64"),
}
STUDENT_PLATFORMS: tuple[str, ...] = ("osx-arm64", "win-64")

_PYTHON_VERSION = re.compile(r"\d+\.\d+(\.\d+)?")

T = TypeVar("T")


class CondaEnvError(Exception):
    """Base class for errors of this module."""


class InvalidSpecError(CondaEnvError):
    """A MatchSpec that rattler cannot parse."""


class ChannelUnreachableError(CondaEnvError):
    """A channel's repodata could not be read (down, wrong URL, no network, TLS)."""


class UnsatisfiableError(CondaEnvError):
    """The specs have no solution in the channels for the platform."""

    def __init__(
        self,
        message: str,
        *,
        explanation: str = "",
        specs: Sequence[str] = (),
        involved: Sequence[str] = (),
        origins: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.explanation = explanation
        self.specs = tuple(specs)
        self.involved = tuple(involved)  # spec names the solver message mentions
        self.origins = dict(origins or {})


@dataclass(frozen=True)
class Solution:
    """A solved environment; `records` are in install (topological) order."""

    records: tuple[RepoDataRecord, ...]
    specs: tuple[str, ...]
    channels: tuple[str, ...]  # as given (names or URLs)
    channel_urls: tuple[str, ...]  # resolved base URLs
    platform: str
    virtual_packages: tuple[str, ...]


# --------------------------------------------------------------------------- helpers


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when an event loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def resolve_channel(channel: str, alias: str | None = None) -> Channel:
    """A channel name (`conda-forge`) against the alias, or a full URL as is."""
    if "://" in channel:
        return Channel(channel)
    return Channel(channel, ChannelConfig(channel_alias=(alias or DEFAULT_CHANNEL_ALIAS).rstrip("/") + "/"))


def python_spec(python_version: str) -> str:
    """`python=3.11` (any patch) or `python==3.11.2` (exact)."""
    if not _PYTHON_VERSION.fullmatch(python_version):
        raise ValueError(f"python version must be X.Y or X.Y.Z, got {python_version!r}")
    if python_version.count(".") == 2:
        return f"python=={python_version}"
    return f"python={python_version}"


def parse_virtual_package(text: str) -> GenericVirtualPackage:
    """`__glibc=2.35=0` (version and build optional) -> GenericVirtualPackage."""
    name, _, rest = text.partition("=")
    version, _, build = rest.partition("=")
    return GenericVirtualPackage(PackageName(name), Version(version or "0"), BuildString(build or "0"))


def spec_name(spec: str) -> str:
    """The normalised package name of a MatchSpec string."""
    return MatchSpec(spec).name.normalized


def _sort_install_order(records: Sequence[RepoDataRecord]) -> tuple[RepoDataRecord, ...]:
    # sort_topologically returns plain PackageRecords: map back to keep URLs and channels.
    by_name = {r.name.normalized: r for r in records}
    ordered = PackageRecord.sort_topologically(list(records))
    return tuple(by_name[r.name.normalized] for r in ordered)


def _mentioned(names: Iterable[str], text: str) -> list[str]:
    """Names appearing as whole package names in `text`."""
    return [n for n in names if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", text, re.IGNORECASE)]


def _origin_suffix(name: str, origins: Mapping[str, str]) -> str:
    return f"  ({origins[name]})" if name in origins else ""


def unsatisfiable_message(
    explanation: str,
    specs: Sequence[str],
    platform: str,
    channels: Sequence[str],
    origins: Mapping[str, str] | None = None,
) -> tuple[str, list[str]]:
    """Readable message for an unsolvable request, and the spec names it involves."""
    origins = {k.lower(): v for k, v in (origins or {}).items()}
    by_name = {spec_name(s): s for s in specs}
    involved = _mentioned(by_name, explanation) or list(by_name)  # unsure: blame all
    lines = [f"cannot solve the environment for {platform} from channels {', '.join(channels)}"]
    lines.append("specs involved:")
    lines += [f"  - {by_name[n]}{_origin_suffix(n, origins)}" for n in involved]
    lines.append("solver says:")
    lines += [f"  {line}" for line in explanation.strip().splitlines()]
    lines.append(f"all specs: {', '.join(specs)}")
    return "\n".join(lines), involved


# --------------------------------------------------------------------------- solve


async def solve_lock_async(
    specs: Sequence[str],
    channels: Sequence[str],
    python_version: str | None,
    platform: str = "linux-64",
    virtual_packages: Sequence[str] | None = None,
    *,
    origins: Mapping[str, str] | None = None,
    alias: str | None = None,
    cache_dir: Path | None = None,
    add_pip: bool = True,
    timeout: datetime.timedelta | None = None,
) -> Solution:
    """Solve `specs` (+ the python pin) for `platform`; see `solve_lock`."""
    origins = origins or {}
    all_specs = list(specs) + ([python_spec(python_version)] if python_version else [])
    match_specs = []
    for spec in all_specs:
        try:
            match_specs.append(MatchSpec(spec))
        except InvalidMatchSpecError as error:
            where = origins.get(spec.split()[0].split("=")[0].lower(), "")
            raise InvalidSpecError(f"{where + ': ' if where else ''}invalid spec {spec!r}: {error}") from error
    vps = tuple(virtual_packages if virtual_packages is not None else DEFAULT_VIRTUAL_PACKAGES.get(platform, ()))
    resolved = [resolve_channel(c, alias) for c in channels]
    gateway = Gateway(cache_dir=cache_dir) if cache_dir is not None else Gateway()
    try:
        records = await solve(
            resolved,
            match_specs,
            gateway=gateway,
            platforms=[platform, "noarch"],
            virtual_packages=[parse_virtual_package(v) for v in vps],
            add_pip_as_python_dependency=add_pip,
            timeout=timeout,
        )
    except (GatewayError, FetchRepoDataError) as error:
        urls = ", ".join(c.base_url for c in resolved)
        raise ChannelUnreachableError(
            f"cannot read the conda channel(s) {urls}: check JH_CHANNEL_MAP and JH_CONDA_CHANNEL_ALIAS, "
            f"the settings that point at them\n{error}"
        ) from error
    except SolverError as error:
        explanation = str(error)
        message, involved = unsatisfiable_message(explanation, all_specs, platform, channels, origins)
        raise UnsatisfiableError(
            message, explanation=explanation, specs=all_specs, involved=involved, origins=origins
        ) from error
    return Solution(
        records=_sort_install_order(records),
        specs=tuple(all_specs),
        channels=tuple(channels),
        channel_urls=tuple(c.base_url for c in resolved),
        platform=platform,
        virtual_packages=vps,
    )


def solve_lock(
    specs: Sequence[str],
    channels: Sequence[str],
    python_version: str | None,
    platform: str = "linux-64",
    virtual_packages: Sequence[str] | None = None,
    *,
    origins: Mapping[str, str] | None = None,
    alias: str | None = None,
    cache_dir: Path | None = None,
    add_pip: bool = True,
    timeout: datetime.timedelta | None = None,
) -> Solution:
    """Solve `specs` plus `python=<python_version>` against `channels` for `platform`.

    Channels are names resolved against `alias` (the caller passes the JH_CONDA_CHANNEL_ALIAS
    setting; default settings.DEFAULT_CHANNEL_ALIAS) or full URLs. Virtual packages default to
    `DEFAULT_VIRTUAL_PACKAGES[platform]`. `add_pip` makes python pull in pip, as conda does.
    `origins` maps spec names to "path:line" for error messages.
    Raises UnsatisfiableError or InvalidSpecError.
    """
    return _run(
        solve_lock_async(
            specs,
            channels,
            python_version,
            platform,
            virtual_packages,
            origins=origins,
            alias=alias,
            cache_dir=cache_dir,
            add_pip=add_pip,
            timeout=timeout,
        )
    )


def check_platform(
    specs: Sequence[str],
    channels: Sequence[str],
    platform: str,
    python_version: str | None = None,
    *,
    alias: str | None = None,
    cache_dir: Path | None = None,
) -> tuple[bool, str]:
    """Whether students on `platform` can solve `specs` (pass specs without builds).

    Never raises for solver or channel trouble: the answer is recorded, not fatal.
    """
    try:
        solution = solve_lock(specs, channels, python_version, platform, alias=alias, cache_dir=cache_dir)
    except CondaEnvError as error:
        return False, f"{platform}: not solvable\n{error}"
    except Exception as error:  # noqa: BLE001 - e.g. a channel without this subdir; still a result
        return False, f"{platform}: could not check: {type(error).__name__}: {error}"
    return True, f"{platform}: solvable ({len(solution.records)} packages)"


# --------------------------------------------------------------------------- renderers


def _name(record: PackageRecord) -> str:
    return record.name.normalized


def _by_name(records: Iterable[PackageRecord]) -> list[PackageRecord]:
    return sorted(records, key=_name)


class _IndentedDumper(yaml.SafeDumper):
    """Indent list items under their key, as conda's own exports do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _environment_yml(name: str, deps: list[str], channels: Sequence[str], pip_lines: Sequence[str]) -> str:
    dependencies: list[Any] = list(deps)
    if pip_lines:
        dependencies.append({"pip": list(pip_lines)})
    document = {"name": name, "channels": list(channels), "dependencies": dependencies}
    return yaml.dump(document, Dumper=_IndentedDumper, sort_keys=False, default_flow_style=False, width=1000)


def render_environment_yml(
    name: str, records: Sequence[PackageRecord], channels: Sequence[str], pip_lines: Sequence[str] = ()
) -> str:
    """`environment.yml` with exact `name=version=build` pins (+ a `pip:` section)."""
    deps = [f"{_name(r)}={r.version}={r.build}" for r in _by_name(records)]
    return _environment_yml(name, deps, channels, pip_lines)


def render_environment_nb_yml(
    name: str, records: Sequence[PackageRecord], channels: Sequence[str], pip_lines: Sequence[str] = ()
) -> str:
    """`environment.nb.yml`: `name=version` pins without builds (other platforms)."""
    deps = [f"{_name(r)}={r.version}" for r in _by_name(records)]
    return _environment_yml(name, deps, channels, pip_lines)


def _hash_fragment(record: RepoDataRecord) -> str:
    if record.md5 is not None:
        return record.md5.hex()
    if record.sha256 is not None:
        return f"sha256:{record.sha256.hex()}"
    raise ValueError(f"{record.url}: no md5 or sha256 in the repodata; cannot write a verifiable lock")


def render_explicit_lock(records: Sequence[RepoDataRecord], platform: str | None = None) -> str:
    """conda's explicit format (`conda create --file`), one `url#hash` per line, install order."""
    subdirs = {r.subdir for r in records if r.subdir != "noarch"}
    platform = platform or (subdirs.pop() if len(subdirs) == 1 else "noarch")
    header = [
        "# This file may be used to create an environment using:",
        "# $ conda create --name <env> --file <this file>",
        f"# platform: {platform}",
        "@EXPLICIT",
    ]
    return "\n".join(header + [f"{r.url}#{_hash_fragment(r)}" for r in records]) + "\n"


def _channel_label(url: str, alias: str) -> str:
    prefix = alias.rstrip("/") + "/"
    return url[len(prefix) :].rstrip("/") if url.startswith(prefix) else url.rstrip("/")


def render_packages_txt(records: Sequence[RepoDataRecord], alias: str = DEFAULT_CHANNEL_ALIAS) -> str:
    """Readable `name version build channel` table, sorted by name."""
    rows = [("# name", "version", "build", "channel")]
    rows += [(_name(r), str(r.version), str(r.build), _channel_label(r.channel or "", alias)) for r in _by_name(records)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths)), row[3]]) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def lock_hash(explicit_lock_text: str) -> str:
    """sha256 (hex) of the explicit lock text: identifies the solved environment."""
    return hashlib.sha256(explicit_lock_text.encode()).hexdigest()


# --------------------------------------------------------------------------- lock files


def build_lock_file(solution: Solution) -> LockFile:
    """A rattler lock (`conda-lock.yml`) holding the solution for its platform."""
    lock = LockFile([LockPlatform(solution.platform, virtual_packages=list(solution.virtual_packages))])
    # Use the lock's own platform object: a second fresh LockPlatform panics in 0.28.
    (platform,) = lock.platforms()
    lock.set_channels(LOCK_ENVIRONMENT, [LockChannel(url) for url in solution.channel_urls])
    for record in solution.records:
        lock.add_conda_package(LOCK_ENVIRONMENT, platform, record)
    return lock


def write_lock_file(solution: Solution, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    build_lock_file(solution).to_path(path)
    return path


def write_env_files(
    solution: Solution, out_dir: Path, name: str, pip_lines: Sequence[str] = (), alias: str = DEFAULT_CHANNEL_ALIAS
) -> dict[str, Path]:
    """Write every env file for `solution` into `out_dir`; returns {file name: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        "environment.yml": render_environment_yml(name, solution.records, solution.channels, pip_lines),
        "environment.nb.yml": render_environment_nb_yml(name, solution.records, solution.channels, pip_lines),
        f"conda-{solution.platform}.lock": render_explicit_lock(solution.records, solution.platform),
        "packages.txt": render_packages_txt(solution.records, alias),
    }
    written = {}
    for file_name, text in texts.items():
        (out_dir / file_name).write_text(text)
        written[file_name] = out_dir / file_name
    written["conda-lock.yml"] = write_lock_file(solution, out_dir / "conda-lock.yml")
    return written


def read_lock_records(lock_path: Path, platform: str = "linux-64") -> list[RepoDataRecord]:
    """The conda records for `platform` from a rattler lock file, in install order."""
    environment = LockFile.from_path(lock_path).default_environment()
    if environment is None:
        raise ValueError(f"{lock_path}: no default environment")
    matches = [p for p in environment.platforms() if p.name == platform]
    if not matches:
        raise ValueError(f"{lock_path}: no packages for {platform}")
    records = environment.conda_repodata_records_for_platform(matches[0]) or []
    return list(_sort_install_order(records))
