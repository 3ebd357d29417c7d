"""Environment files of a class env or of the server env: conda solve + lock, pip lock, student README.

One resolver for both: a class env (folder `conda/`: the class kernel env, common + class lists) and
the server env (folder `server/`: the notebook server stack + the common lists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

from jh_pipeline.catalog import ClassInputs, CommonLists
from jh_pipeline.catalog.conda import CondaSpec
from jh_pipeline.catalog.pip import PipRequirement
from jh_pipeline.envs.conda import (
    STUDENT_PLATFORMS,
    check_platform,
    lock_hash,
    solve_lock,
    write_env_files,
)
from jh_pipeline.envs.pip_lock import PipIndexConfig, resolve_pip_lock
from jh_pipeline.envs.student_readme import render_student_readme
from jh_pipeline.settings import DEFAULT_CHANNEL_ALIAS, ServerStack

CONDA_DIR = "conda"  # the class env's files in a set
SERVER_DIR = "server"  # the server env's files in a set
PIP_LOCK = "requirements.pip.lock"
EXPLICIT_LOCK = "conda-linux-64.lock"
RATTLER_LOCK = "conda-lock.yml"
SERVER_ENV_NAME = "jupyter-server"

Log = Callable[[str], None]


@dataclass(frozen=True)
class EnvSettings:
    channel_alias: str = DEFAULT_CHANNEL_ALIAS
    pip: PipIndexConfig = field(default_factory=PipIndexConfig)


@dataclass(frozen=True)
class EnvRequest:
    """What to solve: specs with the file:line each came from, for one folder of a set."""

    name: str  # env name in environment.yml
    folder: str  # CONDA_DIR or SERVER_DIR
    role: str  # "class" or "server" (the README says which to use for what)
    python_version: str
    target: str
    channels: tuple[str, ...]
    conda: tuple[str, ...]
    pip: tuple[str, ...] = ()
    origins: dict[str, str] = field(default_factory=dict)  # conda name -> where it was asked for
    pip_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class CondaEnvFiles:
    files: dict[str, bytes]  # paths relative to the set, under the request's folder
    lock_hash: str
    package_count: int
    pip_pins: dict[str, str]
    solvable: dict[str, bool]
    warnings: list[str]


def _origins(lines: Iterable[CondaSpec]) -> dict[str, str]:
    # A merged spec may come from several lines (common + class): name them all.
    where: dict[str, list[str]] = {}
    for line in lines:
        where.setdefault(line.name, []).append(f"{line.location} '{line.raw}'")
    return {name: ", ".join(places) for name, places in where.items()}


def class_env_request(common: CommonLists, inputs: ClassInputs) -> EnvRequest:
    return EnvRequest(
        name=inputs.key, folder=CONDA_DIR, role="class", python_version=inputs.config.python_version,
        target=inputs.config.target.value, channels=inputs.channels, conda=tuple(s.spec for s in inputs.conda),
        pip=tuple(r.line for r in inputs.pip), origins=_origins((*common.conda, *inputs.spec.conda)),
        pip_origins=tuple(str(r.location) for r in inputs.pip),
    )


def server_env_request(common: CommonLists, stack: ServerStack, channels: tuple[str, ...]) -> EnvRequest:
    """The server stack from jh_pipeline.yaml plus the common lists (their plugins load in this server)."""
    stack_specs = stack.conda_specs()
    stack_names = {s.split()[0] for s in stack_specs}
    common_specs = [s for s in common.conda if s.name not in stack_names]
    pip: list[PipRequirement] = list(common.pip)
    origins = {s.split()[0]: "jh_pipeline.yaml server:" for s in stack_specs} | _origins(common_specs)
    return EnvRequest(
        name=SERVER_ENV_NAME, folder=SERVER_DIR, role="server", python_version=stack.python_version,
        target="base", channels=channels, conda=tuple(stack_specs + [s.spec for s in common_specs]),
        pip=tuple(r.line for r in pip), origins=origins, pip_origins=tuple(str(r.location) for r in pip),
    )


def resolve_env(request: EnvRequest, settings: EnvSettings, semester: str, log: Log) -> CondaEnvFiles:
    log(f"{request.name}: solving {len(request.conda)} conda specs for linux-64 from {', '.join(request.channels)}")
    solution = solve_lock(
        list(request.conda), request.channels, request.python_version, origins=request.origins,
        alias=settings.channel_alias,
    )
    log(f"{request.name}: solved, {len(solution.records)} packages")

    pip_lock = resolve_pip_lock(list(request.pip), request.python_version, origins=list(request.pip_origins),
                                config=settings.pip)
    if request.pip:
        log(f"{request.name}: pip, {len(pip_lock.pins)} pins for {len(request.pip)} requirements")

    no_builds = sorted({f"{r.name.normalized}={r.version}" for r in solution.records})
    solvable: dict[str, bool] = {"linux-64": True}
    for platform in STUDENT_PLATFORMS:
        ok, message = check_platform(no_builds, request.channels, platform, alias=settings.channel_alias)
        solvable[platform] = ok
        log(f"{request.name}: {platform}: {'solvable' if ok else 'not solvable: ' + message.splitlines()[0]}")

    folder = request.folder
    with TemporaryDirectory() as tmp:
        pins = [f"{n}=={v}" for n, v in sorted(pip_lock.pins.items())]
        written = write_env_files(solution, Path(tmp), request.name, pip_lines=pins, alias=settings.channel_alias)
        files = {f"{folder}/{name}": path.read_bytes() for name, path in written.items()}
    if pip_lock.text:
        files[f"{folder}/{PIP_LOCK}"] = pip_lock.text.encode()
    files[f"{folder}/README.md"] = render_student_readme(
        class_name=request.name, semester=semester, python_version=request.python_version,
        target=request.target, files=[name.removeprefix(f"{folder}/") for name in files], solvable=solvable,
        pip_lock_hashed=bool(pip_lock.hashes), role=request.role,
    ).encode()
    return CondaEnvFiles(
        files=files,
        lock_hash=lock_hash(files[f"{folder}/{EXPLICIT_LOCK}"].decode()),
        package_count=len(solution.records),
        pip_pins=pip_lock.pins,
        solvable=solvable,
        warnings=list(pip_lock.warnings),
    )


def resolve_conda_env(
    common: CommonLists, inputs: ClassInputs, settings: EnvSettings, semester: str, log: Log
) -> CondaEnvFiles:
    return resolve_env(class_env_request(common, inputs), settings, semester, log)


def requested_names(request_conda: Sequence[str]) -> list[str]:
    return [s.split("::")[-1].split()[0] for s in request_conda]
