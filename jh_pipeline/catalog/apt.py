"""`apt.txt`: Debian package names, one per line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jh_pipeline.catalog.findings import Finding, Location, error
from jh_pipeline.catalog.lines import content_lines

_DEBIAN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?(=[A-Za-z0-9.+~:-]+)?$")


@dataclass(frozen=True)
class AptPackage:
    name: str
    location: Location


def parse_apt_list(text: str, path: Path) -> tuple[list[AptPackage], list[Finding]]:
    packages: list[AptPackage] = []
    findings: list[Finding] = []
    for number, content in content_lines(text):
        for name in content.split():
            if _DEBIAN_NAME.match(name):
                packages.append(AptPackage(name, Location(path, number)))
            else:
                findings.append(error(path, number, "apt-name", f"'{name}' is not a valid Debian package name"))
    return packages, findings
