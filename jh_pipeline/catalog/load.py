"""Read `requirements/` into a Catalog. Pure file reading; no network.

A broken class is that class's problem only: it stays in the catalog with its findings, and
loading never raises because of what one class folder holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path

from jh_pipeline.catalog import python_versions, rules
from jh_pipeline.catalog.apt import parse_apt_list
from jh_pipeline.catalog.conda import merge_conda_specs, parse_conda_requirements
from jh_pipeline.catalog.config import DEFAULT_CHANNELS, key_line, parse_class_config, parse_condarc
from jh_pipeline.catalog.files import TreeReader, leaves_tree
from jh_pipeline.catalog.findings import Finding, error, warning
from jh_pipeline.catalog.julia import parse_julia_requirements
from jh_pipeline.catalog.model import (
    APT_FILE, CLASS_YAML, CONDA_FILE, CONDARC_FILE, JULIA_FILE, PIP_FILE, R_FILE, Catalog, ClassSpec, CommonLists,
)
from jh_pipeline.catalog.names import class_key
from jh_pipeline.catalog.pip import merge_pip_requirements, parse_pip_requirements
from jh_pipeline.catalog.rscript import parse_r_script
from jh_pipeline.catalog.settings import CatalogSettings, load_catalog_settings

# A folder under classes/ holding none of these is no class folder (unless nothing below is one either).
_CLASS_MARKERS = (CLASS_YAML, CONDA_FILE)
_NESTED_DEPTH = 3  # how deep to look for class folders inside a non-class folder (archive/2024/x)


def load_common(folder: Path, reader: TreeReader | None = None) -> tuple[CommonLists, list[Finding]]:
    reader = reader or TreeReader.for_root(folder.parent)
    findings: list[Finding] = []
    if not reader.exists(folder / CONDA_FILE):
        findings.append(error(folder / CONDA_FILE, 1, "missing-file", "required file is missing"))
    conda, found = parse_conda_requirements(reader.read(folder / CONDA_FILE) or "", folder / CONDA_FILE)
    conda, merged = merge_conda_specs(conda)
    pip, found_pip = parse_pip_requirements(reader.read(folder / PIP_FILE) or "", folder / PIP_FILE)
    pip, merged_pip = merge_pip_requirements(pip)
    apt, found_apt = parse_apt_list(reader.read(folder / APT_FILE) or "", folder / APT_FILE)
    findings += reader.take() + found + merged + found_pip + merged_pip + found_apt
    return CommonLists(folder, tuple(conda), tuple(pip), tuple(apt)), findings


def load_class(
    folder: Path,
    common: CommonLists,
    *,
    reader: TreeReader | None = None,
    settings: CatalogSettings | None = None,
    today: date | None = None,
    bioconductor: Iterable[str] | None = None,
) -> ClassSpec:
    reader = reader or TreeReader.for_root(folder.parent.parent)
    settings = settings or CatalogSettings()
    key = class_key(folder.name)
    if leaves_tree(folder, reader.root):
        # Nothing below a folder link that leaves the tree is read.
        return ClassSpec(key=key, folder=folder, config=None, findings=(
            error(folder, 1, "symlink-outside",
                  f"class folder '{folder.name}' is a symbolic link leading outside the requirements tree; "
                  "it was not read"),
        ))

    findings: list[Finding] = []
    config = None
    yaml_text = reader.read(folder / CLASS_YAML)
    if not reader.exists(folder / CLASS_YAML):
        findings.append(error(folder / CLASS_YAML, 1, "missing-file", "required file is missing"))
    elif yaml_text is not None:
        config, found = parse_class_config(yaml_text, folder / CLASS_YAML)
        findings += found
        if config is not None:
            findings += python_versions.check_python_version(
                config.python_version, folder / CLASS_YAML, key_line(yaml_text, "python_version"),
                today or python_versions.today(),
            )

    if not reader.exists(folder / CONDA_FILE):
        findings.append(error(folder / CONDA_FILE, 1, "missing-file", "required file is missing"))
    conda, found = parse_conda_requirements(reader.read(folder / CONDA_FILE) or "", folder / CONDA_FILE)
    conda, merged = merge_conda_specs(conda)
    findings += found + merged

    pip, found = parse_pip_requirements(reader.read(folder / PIP_FILE) or "", folder / PIP_FILE)
    pip, merged = merge_pip_requirements(pip)
    findings += found + merged

    julia_text = reader.read(folder / JULIA_FILE)
    julia, found = parse_julia_requirements(julia_text, folder / JULIA_FILE) if julia_text is not None else ([], [])
    findings += found

    r_script = reader.read(folder / R_FILE)
    r_pkgs, r_findings = parse_r_script(r_script, folder / R_FILE, bioconductor) if r_script is not None else ([], [])
    if config is None or config.target.uses_r:
        findings += r_findings  # a target without R ignores the script (rules warn about that)

    apt, found = parse_apt_list(reader.read(folder / APT_FILE) or "", folder / APT_FILE)
    findings += found

    condarc = reader.read(folder / CONDARC_FILE)
    channels, found = (
        parse_condarc(condarc, folder / CONDARC_FILE, allow_local_channels=settings.allow_local_channels)
        if condarc is not None else (DEFAULT_CHANNELS, [])
    )
    findings += found + reader.take()

    spec = ClassSpec(
        key=key, folder=folder, config=config, conda=tuple(conda), pip=tuple(pip),
        julia=tuple(julia), r_packages=tuple(r_pkgs), r_script=r_script, apt=tuple(apt), channels=channels,
    )
    findings += rules.check_class(spec, common, julia_file=reader.exists(folder / JULIA_FILE))
    return replace(spec, findings=tuple(findings))


def _load_class_safely(folder: Path, common: CommonLists, reader: TreeReader, **options: object) -> ClassSpec:
    try:
        return load_class(folder, common, reader=reader, **options)  # type: ignore[arg-type]
    except Exception as exc:
        reader.take()  # what was found so far belongs to no other class
        return ClassSpec(key=class_key(folder.name), folder=folder, config=None, findings=(
            error(folder, 1, "load-failed", f"the class could not be read ({type(exc).__name__})"),
        ))


def _nested_classes(folder: Path) -> list[Path]:
    """Class folders (holding class.yaml) below a folder that is not one itself, symlinks not followed."""
    found: list[Path] = []
    base_depth = len(folder.parts)
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        if here != folder and CLASS_YAML in files:
            found.append(here)
            dirs.clear()
            continue
        if len(here.parts) - base_depth >= _NESTED_DEPTH:
            dirs.clear()
        dirs.sort()
    return found


def _class_folders(classes_dir: Path) -> tuple[list[Path], list[Finding]]:
    """The class folders under `classes/`, and warnings for folders skipped because they only hold others."""
    folders: list[Path] = []
    findings: list[Finding] = []
    if not classes_dir.is_dir():
        return folders, findings
    for path in sorted(classes_dir.iterdir()):
        if not path.is_dir():
            continue
        if not path.is_symlink() and not any(os.path.lexists(path / m) for m in _CLASS_MARKERS):
            nested = _nested_classes(path)
            if nested:
                names = ", ".join(str(p.relative_to(classes_dir)) for p in nested)
                findings.append(warning(
                    path, 1, "not-a-class-folder",
                    f"'{path.name}' is not a class folder (no {CLASS_YAML}) and holds class folders, which are "
                    f"skipped: {names}",
                ))
                continue
        folders.append(path)
    return folders, findings


def load_catalog(
    root: Path,
    *,
    settings: CatalogSettings | None = None,
    today: date | None = None,
    bioconductor: Iterable[str] | None = None,
) -> Catalog:
    """Parse `root/common` and every folder of `root/classes`. One broken class never hides another.

    `settings`: default the `catalog:` section of `jh_pipeline.yaml` beside `root`; `today`: the date
    Python end of life is judged on (default today); `bioconductor`: known Bioconductor package
    names (default a built-in list of common ones).
    """
    root = Path(root)
    findings: list[Finding] = []
    if settings is None:
        settings, found = load_catalog_settings(root.resolve().parent)
        findings += found
    reader = TreeReader.for_root(root)
    common, found = load_common(root / "common", reader)
    findings += found
    folders, found = _class_folders(root / "classes")
    findings += found
    if not folders:
        findings.append(error(root / "classes", 1, "no-classes", "no class folders found"))

    options = {"settings": settings, "today": today, "bioconductor": bioconductor}
    specs = [_load_class_safely(folder, common, reader, **options) for folder in folders]
    by_key: dict[str, list[ClassSpec]] = {}
    for spec in specs:
        by_key.setdefault(spec.key, []).append(spec)

    classes: dict[str, ClassSpec] = {}
    left_out: list[ClassSpec] = []
    # Of colliding folders, the one named exactly like the key holds it (both carry the error).
    for spec in sorted(specs, key=lambda s: (s.folder.name != s.key, s.folder.name)):
        others = [s for s in by_key[spec.key] if s is not spec]
        extra = rules.check_class_key(spec.folder, spec.key, others)
        spec = replace(spec, findings=spec.findings + tuple(extra))
        if rules.is_reserved(spec.key) or spec.key in classes:
            left_out.append(spec)  # cannot have the key; its findings say why
        else:
            classes[spec.key] = spec
    classes = dict(sorted(classes.items()))
    return Catalog(root, common, classes, tuple(findings), tuple(left_out))
