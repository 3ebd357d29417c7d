"""What a class really asks for: the common lists merged with the class's own."""

from __future__ import annotations

from dataclasses import dataclass, replace

from jh_pipeline.catalog.conda import CondaSpec, merge_conda_specs
from jh_pipeline.catalog.config import ClassConfig
from jh_pipeline.catalog.findings import Finding, Location
from jh_pipeline.catalog.model import CLASS_YAML, ClassSpec, CommonLists
from jh_pipeline.catalog.pip import PipRequirement, merge_pip_requirements


def _conflicts_only(findings: list[Finding], rule: str) -> list[Finding]:
    # Repeating a common package in a class is harmless; only conflicts matter here.
    return [replace(f, rule=rule) for f in findings if f.is_error]


# A MySQL class needs a Python client in its env; any of these will do.
MYSQL_CLIENTS = ("pymysql", "mysql-connector-python", "mysqlclient")


# `sqlite: true` gives the class env the xeus-sqlite kernel (registered next to the Python kernel).
SQLITE_KERNEL_PACKAGE = "xeus-sqlite"


def class_conda_specs(common: CommonLists, spec: ClassSpec) -> tuple[list[CondaSpec], list[Finding]]:
    merged, findings = merge_conda_specs([*common.conda, *spec.conda])
    where = Location(spec.folder / CLASS_YAML, 1)
    if spec.config is not None and spec.config.mysql and not any(s.name in MYSQL_CLIENTS for s in merged):
        merged.append(CondaSpec("pymysql", None, None, None, where, "pymysql (mysql: true)"))
    if spec.config is not None and spec.config.sqlite and not any(s.name == SQLITE_KERNEL_PACKAGE for s in merged):
        merged.append(CondaSpec(SQLITE_KERNEL_PACKAGE, None, None, None, where, f"{SQLITE_KERNEL_PACKAGE} (sqlite: true)"))
    return merged, _conflicts_only(findings, "common-conflict")


def class_pip_requirements(common: CommonLists, spec: ClassSpec) -> tuple[list[PipRequirement], list[Finding]]:
    merged, findings = merge_pip_requirements([*common.pip, *spec.pip])
    return merged, _conflicts_only(findings, "common-conflict")


@dataclass(frozen=True)
class ClassInputs:
    """What a buildable class's env is made from, merged once: the env key, the solve and the image
    checks all read this value. ``channels`` are after the site's channel map."""

    spec: ClassSpec
    config: ClassConfig
    conda: tuple[CondaSpec, ...]
    pip: tuple[PipRequirement, ...]
    channels: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.spec.key

    def requested_names(self) -> list[str]:
        """Every package a student can import from the class env (VCS pip lines have no name to check)."""
        return [s.name for s in self.conda] + [r.name for r in self.pip if not r.is_vcs]


def class_inputs(common: CommonLists, spec: ClassSpec, channels: tuple[str, ...]) -> ClassInputs:
    if spec.config is None:
        raise ValueError(f"class {spec.key} has errors (no valid {CLASS_YAML}); run jh-pipeline validate")
    conda, _ = class_conda_specs(common, spec)
    pip, _ = class_pip_requirements(common, spec)
    return ClassInputs(spec, spec.config, tuple(conda), tuple(pip), channels)
