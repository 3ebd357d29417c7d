"""`requirements.jl`: `const julia_packages = ["IJulia", ...]`, read without Julia."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jh_pipeline.catalog.findings import Finding, Location, error, warning

_START = re.compile(r"\bjulia_packages\s*=\s*\[")
_TOKEN = re.compile(r'"(?P<name>[^"\\]*)"|(?P<comment>#.*)|(?P<end>\])|(?P<comma>,)|(?P<space>\s+)|(?P<other>[^\s,#\]"]+)')
_PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.jl)?$")


@dataclass(frozen=True)
class JuliaPackage:
    name: str
    location: Location


def parse_julia_requirements(text: str, path: Path) -> tuple[list[JuliaPackage], list[Finding]]:
    start = _START.search(text)
    if start is None:
        return [], [error(path, 1, "julia-file", "no `julia_packages = [...]` array found")]
    packages: list[JuliaPackage] = []
    findings: list[Finding] = []
    seen: dict[str, JuliaPackage] = {}
    pos = start.end()
    while pos < len(text):
        token = _TOKEN.match(text, pos)
        assert token is not None  # the pattern matches any character
        line = text.count("\n", 0, pos) + 1
        pos = token.end()
        if token.group("end"):
            return packages, findings
        if token.group("other"):
            findings.append(error(path, line, "julia-file", f"unexpected '{token.group('other')}' in julia_packages"))
        name = token.group("name")
        if name is None:
            continue
        name = name.strip().removesuffix(".jl")
        if not _PACKAGE_NAME.match(name):
            findings.append(error(path, line, "julia-file", f"'{name}' is not a valid Julia package name"))
        elif name in seen:
            findings.append(
                warning(path, line, "julia-duplicate", f"Julia package '{name}' repeats line {seen[name].location.line}")
            )
        else:
            seen[name] = JuliaPackage(name, Location(path, line))
            packages.append(seen[name])
    return packages, findings + [error(path, text.count("\n", 0, start.start()) + 1, "julia-file", "julia_packages: missing closing ']'")]
