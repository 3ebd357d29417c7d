"""Read `requirements/` into a Catalog. Pure file reading; no network."""

from __future__ import annotations

from pathlib import Path

from jh_pipeline.catalog import rules
from jh_pipeline.catalog.apt import parse_apt_list
from jh_pipeline.catalog.conda import merge_conda_specs, parse_conda_requirements
from jh_pipeline.catalog.config import DEFAULT_CHANNELS, parse_class_config, parse_condarc
from jh_pipeline.catalog.findings import Finding, error
from jh_pipeline.catalog.julia import parse_julia_requirements
from jh_pipeline.catalog.model import (
    APT_FILE, CLASS_YAML, CONDA_FILE, CONDARC_FILE, JULIA_FILE, PIP_FILE, R_FILE, Catalog, ClassSpec, CommonLists,
)
from jh_pipeline.catalog.names import class_key
from jh_pipeline.catalog.pip import merge_pip_requirements, parse_pip_requirements
from jh_pipeline.catalog.rscript import r_packages


def _read(path: Path) -> str | None:
    # utf-8-sig: files saved by some Windows editors start with a BOM.
    return path.read_text(encoding="utf-8-sig") if path.is_file() else None


def load_common(folder: Path) -> tuple[CommonLists, list[Finding]]:
    findings: list[Finding] = []
    conda_text = _read(folder / CONDA_FILE)
    if conda_text is None:
        findings.append(error(folder / CONDA_FILE, 1, "missing-file", "required file is missing"))
    conda, found = parse_conda_requirements(conda_text or "", folder / CONDA_FILE)
    conda, merged = merge_conda_specs(conda)
    pip, found_pip = parse_pip_requirements(_read(folder / PIP_FILE) or "", folder / PIP_FILE)
    pip, merged_pip = merge_pip_requirements(pip)
    apt, found_apt = parse_apt_list(_read(folder / APT_FILE) or "", folder / APT_FILE)
    findings += found + merged + found_pip + merged_pip + found_apt
    return CommonLists(folder, tuple(conda), tuple(pip), tuple(apt)), findings


def load_class(folder: Path, common: CommonLists) -> ClassSpec:
    findings: list[Finding] = []
    config = None
    yaml_text = _read(folder / CLASS_YAML)
    if yaml_text is None:
        findings.append(error(folder / CLASS_YAML, 1, "missing-file", "required file is missing"))
    else:
        config, found = parse_class_config(yaml_text, folder / CLASS_YAML)
        findings += found

    conda_text = _read(folder / CONDA_FILE)
    if conda_text is None:
        findings.append(error(folder / CONDA_FILE, 1, "missing-file", "required file is missing"))
    conda, found = parse_conda_requirements(conda_text or "", folder / CONDA_FILE)
    conda, merged = merge_conda_specs(conda)
    findings += found + merged

    pip, found = parse_pip_requirements(_read(folder / PIP_FILE) or "", folder / PIP_FILE)
    pip, merged = merge_pip_requirements(pip)
    findings += found + merged

    julia_text = _read(folder / JULIA_FILE)
    julia, found = parse_julia_requirements(julia_text, folder / JULIA_FILE) if julia_text is not None else ([], [])
    findings += found

    r_script = _read(folder / R_FILE)
    r_pkgs = r_packages(r_script, folder / R_FILE) if r_script is not None else []

    apt, found = parse_apt_list(_read(folder / APT_FILE) or "", folder / APT_FILE)
    findings += found

    condarc = _read(folder / CONDARC_FILE)
    channels, found = parse_condarc(condarc, folder / CONDARC_FILE) if condarc is not None else (DEFAULT_CHANNELS, [])
    findings += found

    spec = ClassSpec(
        key=class_key(folder.name), folder=folder, config=config, conda=tuple(conda), pip=tuple(pip),
        julia=tuple(julia), r_packages=tuple(r_pkgs), r_script=r_script, apt=tuple(apt), channels=channels,
    )
    findings += rules.check_class(spec, common, julia_file=julia_text is not None)
    return ClassSpec(**{**spec.__dict__, "findings": tuple(findings)})


def load_catalog(root: Path) -> Catalog:
    """Parse `root/common` and every folder of `root/classes`. One broken class never hides another."""
    root = Path(root)
    common, findings = load_common(root / "common")
    classes: dict[str, ClassSpec] = {}
    folders = sorted(p for p in (root / "classes").iterdir() if p.is_dir()) if (root / "classes").is_dir() else []
    if not folders:
        findings.append(error(root / "classes", 1, "no-classes", "no class folders found"))
    for folder in folders:
        spec = load_class(folder, common)
        key_findings = rules.check_class_key(folder, spec.key, classes.get(spec.key))
        if any(f.is_error for f in key_findings):
            findings += key_findings
            continue  # a colliding class is left out; the first one with that key stays
        classes[spec.key] = ClassSpec(**{**spec.__dict__, "findings": spec.findings + tuple(key_findings)})
    return Catalog(root, common, classes, tuple(findings))
