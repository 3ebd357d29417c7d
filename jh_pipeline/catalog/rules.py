"""Cross-file validation rules of one class (single-file rules live with their parsers)."""

from __future__ import annotations

from pathlib import Path

from jh_pipeline.catalog.findings import Finding, error, warning
from jh_pipeline.catalog.merge import class_conda_specs, class_pip_requirements
from jh_pipeline.catalog.model import (
    CLASS_YAML, CONDA_FILE, JULIA_FILE, R_FILE, RESERVED_CLASS_NAMES, ClassSpec, CommonLists,
)
from jh_pipeline.catalog.rscript import has_code

R_INTERPRETER = "r-base"
R_KERNEL = "r-irkernel"
JULIA_KERNEL = "IJulia"


def check_class(spec: ClassSpec, common: CommonLists, *, julia_file: bool) -> list[Finding]:
    findings: list[Finding] = []
    findings += class_conda_specs(common, spec)[1]
    findings += class_pip_requirements(common, spec)[1]
    if spec.config is None:
        return findings  # target unknown: the target rules cannot run
    target = spec.config.target
    folder = spec.folder
    conda_names = {s.name for s in (*common.conda, *spec.conda)}
    if target.uses_r and R_INTERPRETER not in conda_names:
        findings.append(
            error(folder / CONDA_FILE, 1, "r-interpreter",
                  f"target {target} needs an R interpreter: add '{R_INTERPRETER}' to the conda list")
        )
    if target.uses_r and R_KERNEL not in conda_names:
        # The image's R step registers IRkernel from the class env and stops without it.
        findings.append(
            error(folder / CONDA_FILE, 1, "r-kernel",
                  f"target {target} needs the R kernel: add '{R_KERNEL}' to the conda list")
        )
    if target.uses_julia and not julia_file:
        findings.append(error(folder / JULIA_FILE, 1, "julia-missing", f"target {target} needs {JULIA_FILE}"))
    extra_julia = [p for p in spec.julia if p.name != JULIA_KERNEL]  # the template lists IJulia alone
    if not target.uses_julia and extra_julia:
        findings.append(
            warning(folder / JULIA_FILE, extra_julia[0].location.line, "unused-file",
                    f"{JULIA_FILE} lists packages but target {target} has no Julia; they are ignored")
        )
    if not target.uses_r and spec.r_script is not None and has_code(spec.r_script):
        findings.append(
            warning(folder / R_FILE, 1, "unused-file", f"{R_FILE} has code but target {target} has no R; it is ignored")
        )
    return findings


def is_reserved(key: str) -> bool:
    return key in RESERVED_CLASS_NAMES


def check_class_key(folder: Path, key: str, others: list[ClassSpec]) -> list[Finding]:
    """Findings on a class folder's name; `others` are the other folders with the same key."""
    if is_reserved(key):
        return [
            error(folder / CLASS_YAML, 1, "class-name-reserved",
                  f"'{folder.name}' cannot be a class name: '{key}' is reserved for the shared lists "
                  "(requirements/common); rename the folder")
        ]
    findings = []
    for other in others:
        findings.append(
            error(folder / CLASS_YAML, 1, "class-name-collision",
                  f"class folders '{folder.name}' and '{other.folder.name}' both normalise to '{key}'; "
                  "rename one (neither is built until then)")
        )
    if key != folder.name:
        findings.append(
            warning(folder / CLASS_YAML, 1, "class-name",
                    f"class folder '{folder.name}' is not a valid asset key part ([a-z0-9_]); using '{key}'")
        )
    return findings
