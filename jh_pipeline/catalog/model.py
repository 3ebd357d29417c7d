"""The typed catalog: common lists plus every class folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jh_pipeline.catalog.apt import AptPackage
from jh_pipeline.catalog.conda import CondaSpec
from jh_pipeline.catalog.config import ClassConfig
from jh_pipeline.catalog.findings import Finding
from jh_pipeline.catalog.julia import JuliaPackage
from jh_pipeline.catalog.pip import PipRequirement
from jh_pipeline.catalog.rscript import RPackage

# File names inside requirements/common and requirements/classes/<class>.
CLASS_YAML = "class.yaml"
CONDA_FILE = "requirements.txt"
PIP_FILE = "requirements.pip.txt"
JULIA_FILE = "requirements.jl"
R_FILE = "packages.R"
CONDARC_FILE = "condarc"
APT_FILE = "apt.txt"
# Folder names that cannot be classes: `common` is the shared lists' asset key prefix and store folder.
RESERVED_CLASS_NAMES = frozenset({"common"})


@dataclass(frozen=True)
class CommonLists:
    folder: Path
    conda: tuple[CondaSpec, ...] = ()
    pip: tuple[PipRequirement, ...] = ()
    apt: tuple[AptPackage, ...] = ()


@dataclass(frozen=True)
class ClassSpec:
    """One class folder, parsed. Lists are the class's own (merged within the class)."""

    key: str  # asset key part, normalised from the folder name
    folder: Path
    config: ClassConfig | None  # None when class.yaml is missing or invalid
    conda: tuple[CondaSpec, ...] = ()
    pip: tuple[PipRequirement, ...] = ()
    julia: tuple[JuliaPackage, ...] = ()
    r_packages: tuple[RPackage, ...] = ()
    r_script: str | None = None
    apt: tuple[AptPackage, ...] = ()
    channels: tuple[str, ...] = ("conda-forge",)
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def has_errors(self) -> bool:
        """The class cannot be built (its config is unknown or a finding is an error)."""
        return self.config is None or bool(self.errors)

    @property
    def ok(self) -> bool:
        return not self.has_errors


@dataclass(frozen=True)
class Catalog:
    root: Path  # the requirements/ folder
    common: CommonLists
    classes: dict[str, ClassSpec]  # every class folder that has a key of its own, broken ones included
    findings: tuple[Finding, ...] = field(default=())  # common lists, settings, skipped folders
    # Class folders that cannot have an asset key: a reserved name (`common`), or a key another
    # folder already has. Each carries the error saying why (for the load logs and validate).
    left_out: tuple[ClassSpec, ...] = field(default=())

    def all_findings(self) -> list[Finding]:
        found = list(self.findings)
        for spec in (*self.classes.values(), *self.left_out):
            found += spec.findings
        return sorted(found, key=lambda f: (f.location, f.message))

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.all_findings())

    @property
    def common_errors(self) -> list[Finding]:
        """Errors that stop every class: the common lists and the site settings."""
        return [f for f in self.findings if f.is_error]

    def errors_of(self, key: str) -> list[Finding]:
        """What stops class `key` from being built: the common errors and its own. Empty: build it."""
        return self.common_errors + self.classes[key].errors

    def class_has_errors(self, key: str) -> bool:
        spec = self.classes[key]
        return spec.has_errors or bool(self.common_errors)
