"""Whether two version constraints can hold at once (conda and pip).

Exact intersection of version specs is not offered by the libraries, so we look for a witness:
a version built from the numbers the specs mention (and their neighbours) that satisfies both.
Specs written by people (`6.*`, `>=1.2,<2`, `==1.98.1`) always have one when compatible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version as PipVersion
from rattler import Version, VersionSpec

_NUMBERS = re.compile(r"\d+(?:\.\d+)*")


def candidate_versions(*specs: str) -> list[str]:
    candidates = {"0", "0.0.1", "1", "999999"}
    for spec in specs:
        for token in _NUMBERS.findall(spec):
            parts = [int(p) for p in token.split(".")]
            candidates.add(token)
            for tail in ("0", "1", "5", "999999"):
                candidates.add(f"{token}.{tail}")
                candidates.add(f"{token}.0.{tail}")
            for i in range(len(parts)):
                for delta in (-1, 1):
                    bumped = parts[: i + 1]
                    bumped[i] += delta
                    if bumped[i] >= 0:
                        candidates.add(".".join(map(str, bumped)))
                        candidates.add(".".join(map(str, bumped)) + ".999999")
    return sorted(candidates)


def _has_witness(specs: Iterable[str], matches: Callable[[str], bool]) -> bool:
    return any(matches(v) for v in candidate_versions(*specs))


def intersect_conda_versions(a: str | None, b: str | None) -> tuple[bool, str | None]:
    """(compatible, merged version spec). A missing version means "any"."""
    if not a or not b or a == b:
        return True, a or b
    spec_a, spec_b = VersionSpec(a), VersionSpec(b)
    ok = _has_witness([a, b], lambda v: spec_a.matches(Version(v)) and spec_b.matches(Version(v)))
    return ok, f"{a},{b}" if ok else None


def intersect_pip_specifiers(a: str, b: str) -> tuple[bool, str]:
    if not a or not b or a == b:
        return True, a or b
    try:
        combined = SpecifierSet(a) & SpecifierSet(b)
    except InvalidSpecifier:
        return True, f"{a},{b}"

    def matches(v: str) -> bool:
        try:
            return combined.contains(PipVersion(v), prereleases=True)
        except InvalidVersion:
            return False

    ok = _has_witness([a, b], matches)
    return ok, str(combined)
