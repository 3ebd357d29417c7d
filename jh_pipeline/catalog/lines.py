"""Line-oriented list files: `#` comments, blank lines, trailing spaces."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from jh_pipeline.catalog.findings import Finding, Location

T = TypeVar("T")


def content_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, content) for lines that hold something besides a comment."""
    for number, raw in enumerate(text.splitlines(), start=1):
        content = strip_comment(raw).strip()
        if content:
            yield number, content


def strip_comment(line: str) -> str:
    # A `#` starts a comment only at the line start or after whitespace: URLs keep `#md5`/`#egg=`.
    if line.lstrip().startswith("#"):
        return ""
    for i, char in enumerate(line):
        if char == "#" and i > 0 and line[i - 1].isspace():
            return line[:i]
    return line


def parse_lines(
    text: str, path: Path, parse_one: Callable[[str, Location], tuple[T | None, list[Finding]]]
) -> tuple[list[T], list[Finding]]:
    """Parse every content line with `parse_one`; collect what parsed and every finding."""
    items: list[T] = []
    findings: list[Finding] = []
    for number, content in content_lines(text):
        item, found = parse_one(content, Location(path, number))
        findings += found
        if item is not None:
            items.append(item)
    return items, findings
