"""`packages.R`: kept as a script; package names written literally in install calls are extracted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from jh_pipeline.catalog.findings import Location

_CALL = re.compile(r"\b(?P<fn>install\.packages|BiocManager::install|remotes::install_cran)\s*\(")
_STRING = re.compile(r"""(["'])(?P<s>[^"'\\]*)\1""")


class RSource(StrEnum):
    CRAN = "cran"
    BIOCONDUCTOR = "bioconductor"


@dataclass(frozen=True)
class RPackage:
    name: str
    source: RSource
    location: Location


def strip_r_comments(text: str) -> str:
    """Blank out `#` comments outside strings, keeping offsets (and so line numbers) intact."""
    out = []
    quote: str | None = None
    in_comment = False
    for char in text:
        if char == "\n":
            in_comment = False
        elif in_comment:
            char = " "
        elif quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#":
            in_comment, char = True, " "
        out.append(char)
    return "".join(out)


def _first_argument(code: str, start: int) -> tuple[int, int]:
    """Span of the first argument of the call whose '(' ends just before `start`."""
    depth = 0
    for i in range(start, len(code)):
        char = code[i]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                return start, i
            depth -= 1
        elif char == "," and depth == 0:
            return start, i
    return start, len(code)


def r_packages(text: str, path: Path) -> list[RPackage]:
    code = strip_r_comments(text)
    packages: list[RPackage] = []
    for call in _CALL.finditer(code):
        source = RSource.BIOCONDUCTOR if call.group("fn").startswith("BiocManager") else RSource.CRAN
        begin, end = _first_argument(code, call.end())
        argument = code[begin:end].strip()
        if not (argument.startswith("c(") or argument[:1] in "\"'"):
            continue  # a variable or expression: not written literally
        for literal in _STRING.finditer(code, begin, end):
            line = code.count("\n", 0, literal.start()) + 1
            packages.append(RPackage(literal.group("s"), source, Location(path, line)))
    return packages


def has_code(text: str) -> bool:
    return bool(strip_r_comments(text).strip())
