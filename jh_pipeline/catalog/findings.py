"""Validation findings: one line each, `PATH:LINE: error|warning: message`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    path: Path
    line: int = 1  # 1-based; file-level findings use line 1

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.line}"


@dataclass(frozen=True)
class Finding:
    location: Location
    severity: Severity
    message: str
    rule: str

    def format(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def display_path(path: Path) -> str:
    """Path relative to the current directory when it is below it, else as given."""
    try:
        return os.path.relpath(path)
    except ValueError:  # different drive (Windows)
        return str(path)


def error(path: Path, line: int, rule: str, message: str) -> Finding:
    return Finding(Location(path, line), Severity.ERROR, message, rule)


def warning(path: Path, line: int, rule: str, message: str) -> Finding:
    return Finding(Location(path, line), Severity.WARNING, message, rule)
