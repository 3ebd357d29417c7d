"""Which Python versions a class env may use: the server stack's range and CPython's end-of-life dates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jh_pipeline.catalog.findings import Finding, error, warning

# Class envs the server stack can run a kernel from (ipykernel and the smoke checks), inclusive.
MIN_PYTHON = (3, 9)
MAX_PYTHON = (3, 13)

# End of life of each CPython minor (https://devguide.python.org/versions/); the last day of the
# month where the devguide gives only a month.
EOL_DATES: dict[tuple[int, int], date] = {
    (3, 6): date(2021, 12, 23),
    (3, 7): date(2023, 6, 27),
    (3, 8): date(2024, 10, 7),
    (3, 9): date(2025, 10, 31),
    (3, 10): date(2026, 10, 31),
    (3, 11): date(2027, 10, 31),
    (3, 12): date(2028, 10, 31),
    (3, 13): date(2029, 10, 31),
    (3, 14): date(2030, 10, 31),
}


def today() -> date:
    """The date findings are judged on (a function, so tests can pin it)."""
    return date.today()


def minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def supported_range() -> str:
    return f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} to {MAX_PYTHON[0]}.{MAX_PYTHON[1]}"


def is_supported(version: str) -> bool:
    found = minor(version)
    return found is not None and MIN_PYTHON <= found <= MAX_PYTHON


def check_python_version(version: str, path: Path, line: int, on: date) -> list[Finding]:
    """Unsupported by the server stack: error. Past its end of life on `on`: warning naming the date."""
    found = minor(version)
    if found is None:
        return []  # the schema already refused it
    if not is_supported(version):
        return [
            error(path, line, "python-unsupported",
                  f"python_version {version}: the server stack runs class envs on Python {supported_range()} only")
        ]
    eol = EOL_DATES.get(found)
    if eol is not None and eol < on:
        return [
            warning(path, line, "python-eol",
                    f"python_version {version}: Python {found[0]}.{found[1]} reached its end of life on "
                    f"{eol.isoformat()} (no more security fixes); move the class to a newer Python")
        ]
    return []
