"""Conda package lists (`requirements.txt`): one MatchSpec per line, parsed by py-rattler."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rattler import MatchSpec
from rattler.exceptions import InvalidMatchSpecError

from jh_pipeline.catalog.findings import Finding, Location, error, warning
from jh_pipeline.catalog.lines import parse_lines
from jh_pipeline.catalog.versions import intersect_conda_versions


@dataclass(frozen=True)
class CondaSpec:
    name: str  # normalised (lowercase)
    version: str | None  # conda version spec, e.g. "6.*"
    build: str | None
    channel: str | None
    location: Location
    raw: str

    @property
    def spec(self) -> str:
        """The MatchSpec string handed to the solver."""
        text = f"{self.channel}::{self.name}" if self.channel else self.name
        if self.version:
            text += f" {self.version}"
        if self.build:
            text += f" {self.build}"
        return text


def parse_conda_spec(text: str, location: Location) -> tuple[CondaSpec | None, list[Finding]]:
    path, line = location.path, location.line
    try:
        match = MatchSpec(text)
    except InvalidMatchSpecError as exc:
        return None, [error(path, line, "conda-spec", f"cannot parse conda spec '{text}': {exc}")]
    build = match.build
    # rattler is lenient ("a b c d" parses as version "b", build "c d"); a real build string has no spaces.
    if build is not None and re.search(r"\s", build):
        return None, [error(path, line, "conda-spec", f"cannot parse conda spec '{text}': too many fields")]
    written = re.split(r"[\s=<>!~\[]", text.split("::")[-1], maxsplit=1)[0]
    name = match.name.normalized
    findings = []
    if written != name:
        findings.append(
            warning(path, line, "conda-lowercase", f"conda package name '{written}' is not lowercase; using '{name}'")
        )
    version = str(match.version) if match.version is not None else None
    return CondaSpec(name, version, build, match.channel.name if match.channel else None, location, text), findings


def parse_conda_requirements(text: str, path: Path) -> tuple[list[CondaSpec], list[Finding]]:
    return parse_lines(text, path, parse_conda_spec)


def merge_conda_specs(specs: list[CondaSpec]) -> tuple[list[CondaSpec], list[Finding]]:
    """Merge repeated names: compatible versions become one spec, conflicting ones are errors.

    The first occurrence keeps its place and location; later ones are reported against it.
    """
    merged: dict[str, CondaSpec] = {}
    findings: list[Finding] = []
    for spec in specs:
        first = merged.get(spec.name)
        if first is None:
            merged[spec.name] = spec
            continue
        combined, findings_for = _combine(first, spec)
        findings += findings_for
        if combined is not None:
            merged[spec.name] = combined
    return list(merged.values()), findings


def _combine(first: CondaSpec, later: CondaSpec) -> tuple[CondaSpec | None, list[Finding]]:
    path, line = later.location.path, later.location.line
    where = f"{first.location}" if first.location.path != later.location.path else f"line {first.location.line}"
    compatible, version = intersect_conda_versions(first.version, later.version)
    if not compatible or (first.build and later.build and first.build != later.build):
        return None, [
            error(
                path, line, "conda-conflict",
                f"'{later.raw}' conflicts with '{first.raw}' ({where}): no version satisfies both",
            )
        ]
    merged = CondaSpec(
        first.name, version, first.build or later.build, first.channel or later.channel, first.location, first.raw
    )
    return merged, [
        warning(path, line, "conda-duplicate", f"'{later.raw}' repeats '{first.raw}' ({where}); merged as '{merged.spec}'")
    ]
