"""Julia smoke checks of a built r_julia class image, run in a container (host networking).

The checks themselves live in checks/julia_checks.py (copied into the container, like
smoke.py does with smoke_checks.py): `julia_kernelspec`, `julia_notebook`, `julia_packages_load`
and `julia_precompiled` (loading needed no compiling: the image's generic-CPU caches are valid).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import docker

from jh_pipeline.images.smoke import CheckResult, run_check_script

JULIA_CHECKS_SCRIPT = Path(__file__).resolve().parent / "checks" / "julia_checks.py"  # package data
JULIA_KERNEL = "julia"
ALL_JULIA_CHECKS = ("kernelspec", "notebook", "packages")
# Loading a class's packages and a first kernel start can take minutes on a slow machine.
DEFAULT_TIMEOUT_S = 3600.0


def julia_plan(packages: Iterable[str], *, kernel: str = JULIA_KERNEL,
               checks: Sequence[str] = ALL_JULIA_CHECKS) -> dict[str, object]:
    """The JSON plan for julia_checks.py: `packages` are the names in requirements.jl (deduplicated)."""
    unknown = [c for c in checks if c not in ALL_JULIA_CHECKS]
    if unknown:
        raise ValueError(f"unknown Julia checks {unknown}; known: {list(ALL_JULIA_CHECKS)}")
    names = list(dict.fromkeys(p.strip() for p in packages if p.strip()))
    return {"checks": list(checks), "kernel": kernel, "packages": names}


def julia_container_checks(
    client: docker.DockerClient,
    ref: str,
    packages: Iterable[str],
    *,
    kernel: str = JULIA_KERNEL,
    checks: Sequence[str] = ALL_JULIA_CHECKS,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[CheckResult]:
    """Run checks/julia_checks.py in a container of `ref` (as the image's user, host
    networking) and return its results. A script that crashes or prints no JSON gives one failed
    `julia_checks` result; the container is always removed.
    """
    plan = julia_plan(packages, kernel=kernel, checks=checks)
    return run_check_script(client, ref, JULIA_CHECKS_SCRIPT, plan, "julia_checks", timeout)
