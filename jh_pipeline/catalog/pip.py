"""Pip package lists (`requirements.pip.txt`): PEP 508 lines and VCS URLs, parsed with `packaging`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from jh_pipeline.catalog.findings import Finding, Location, error, warning
from jh_pipeline.catalog.lines import parse_lines
from jh_pipeline.catalog.versions import intersect_pip_specifiers

_VCS = re.compile(r"^(git|hg|svn|bzr)\+[a-z]+://", re.IGNORECASE)


@dataclass(frozen=True)
class PipRequirement:
    name: str  # canonical (PEP 503)
    line: str  # what pip gets, e.g. "pyyaml>=6.0.0" or "git+https://..."
    specifier: str
    location: Location
    is_vcs: bool = False


def parse_pip_line(text: str, location: Location) -> tuple[PipRequirement | None, list[Finding]]:
    path, line = location.path, location.line
    if text.startswith("-"):
        return None, [error(path, line, "pip-line", f"pip option '{text}' is not supported in package lists")]
    if _VCS.match(text):
        egg = re.search(r"[#&]egg=([A-Za-z0-9_.-]+)", text)
        repo = text.split("#", 1)[0].split("@", 2)[-1] if "@" in text.split("://", 1)[1] else text.split("#", 1)[0]
        name = egg.group(1) if egg else repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        return PipRequirement(canonicalize_name(name), text, "", location, is_vcs=True), []
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        return None, [error(path, line, "pip-line", f"cannot parse pip requirement '{text}': {exc}")]
    return PipRequirement(canonicalize_name(req.name), text, str(req.specifier), location, is_vcs=bool(req.url)), []


def parse_pip_requirements(text: str, path: Path) -> tuple[list[PipRequirement], list[Finding]]:
    return parse_lines(text, path, parse_pip_line)


def merge_pip_requirements(reqs: list[PipRequirement]) -> tuple[list[PipRequirement], list[Finding]]:
    """Same rules as conda: compatible repeats merge with a warning, conflicting ones are errors."""
    merged: dict[str, PipRequirement] = {}
    findings: list[Finding] = []
    for req in reqs:
        first = merged.get(req.name)
        if first is None:
            merged[req.name] = req
            continue
        path, line = req.location.path, req.location.line
        where = str(first.location) if first.location.path != path else f"line {first.location.line}"
        if first.is_vcs or req.is_vcs:
            if first.line != req.line:
                findings.append(error(path, line, "pip-conflict", f"'{req.line}' conflicts with '{first.line}' ({where})"))
            continue
        compatible, specifier = intersect_pip_specifiers(first.specifier, req.specifier)
        if not compatible:
            findings.append(
                error(path, line, "pip-conflict",
                      f"'{req.line}' conflicts with '{first.line}' ({where}): no version satisfies both")
            )
            continue
        merged[req.name] = PipRequirement(first.name, f"{first.name}{specifier}", specifier, first.location)
        findings.append(warning(path, line, "pip-duplicate", f"'{req.line}' repeats '{first.line}' ({where}); merged"))
    return list(merged.values()), findings
