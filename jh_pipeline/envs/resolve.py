"""A class's environment files: conda solve + lock, pip lock, student README (one source of truth)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

from jh_pipeline.catalog import ClassSpec, CommonLists, class_conda_specs, class_pip_requirements
from jh_pipeline.envs.conda import STUDENT_PLATFORMS, check_platform, lock_hash, solve_lock, write_env_files
from jh_pipeline.envs.pip_lock import PipIndexConfig, resolve_pip_lock
from jh_pipeline.envs.student_readme import render_student_readme

CONDA_DIR = "conda"
PIP_LOCK = "requirements.pip.lock"
EXPLICIT_LOCK = "conda-linux-64.lock"
RATTLER_LOCK = "conda-lock.yml"

Log = Callable[[str], None]


@dataclass(frozen=True)
class EnvSettings:
    channel_alias: str | None = None
    pip: PipIndexConfig = field(default_factory=PipIndexConfig)


@dataclass(frozen=True)
class CondaEnvFiles:
    files: dict[str, bytes]  # paths relative to the set, under conda/
    lock_hash: str
    package_count: int
    pip_pins: dict[str, str]
    solvable: dict[str, bool]
    warnings: list[str]


def resolve_conda_env(
    common: CommonLists, spec: ClassSpec, channels: tuple[str, ...], settings: EnvSettings, semester: str, log: Log
) -> CondaEnvFiles:
    assert spec.config is not None
    conda_specs, _ = class_conda_specs(common, spec)
    specs = [s.spec for s in conda_specs]
    # A merged spec may come from several lines (common + class): name them all.
    where: dict[str, list[str]] = {}
    for line in (*common.conda, *spec.conda):
        where.setdefault(line.name, []).append(f"{line.location} '{line.raw}'")
    origins = {name: ", ".join(places) for name, places in where.items()}
    log(f"solving {len(specs)} conda specs for linux-64 from {', '.join(channels)}")
    solution = solve_lock(
        specs, channels, spec.config.python_version, origins=origins, alias=settings.channel_alias
    )
    log(f"solved: {len(solution.records)} packages")

    pip_reqs, _ = class_pip_requirements(common, spec)
    pip_lines = [r.line for r in pip_reqs]
    pip_lock = resolve_pip_lock(
        pip_lines, spec.config.python_version, origins=[str(r.location) for r in pip_reqs], config=settings.pip
    )
    if pip_lines:
        log(f"pip: {len(pip_lock.pins)} pins for {len(pip_lines)} requirements")

    no_builds = sorted({f"{r.name.normalized}={r.version}" for r in solution.records})
    solvable: dict[str, bool] = {"linux-64": True}
    for platform in STUDENT_PLATFORMS:
        ok, message = check_platform(no_builds, channels, platform, alias=settings.channel_alias)
        solvable[platform] = ok
        log(f"{platform}: {'solvable' if ok else 'not solvable: ' + message.splitlines()[0]}")

    with TemporaryDirectory() as tmp:
        written = write_env_files(solution, Path(tmp), spec.key, pip_lines=[f"{n}=={v}" for n, v in sorted(pip_lock.pins.items())])
        files = {f"{CONDA_DIR}/{name}": path.read_bytes() for name, path in written.items()}
    if pip_lock.text:
        files[f"{CONDA_DIR}/{PIP_LOCK}"] = pip_lock.text.encode()
    files[f"{CONDA_DIR}/README.md"] = render_student_readme(
        class_name=spec.key,
        semester=semester,
        python_version=spec.config.python_version,
        target=spec.config.target.value,
        files=[name.removeprefix(f"{CONDA_DIR}/") for name in files],
        solvable=solvable,
        pip_lock_hashed=bool(pip_lock.hashes),
    ).encode()
    return CondaEnvFiles(
        files=files,
        lock_hash=lock_hash(files[f"{CONDA_DIR}/{EXPLICIT_LOCK}"].decode()),
        package_count=len(solution.records),
        pip_pins=pip_lock.pins,
        solvable=solvable,
        warnings=list(pip_lock.warnings),
    )
