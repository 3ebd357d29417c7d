"""Resolve a class's pip requirement lines to an exact, hashed lock.

The resolver is pip itself (`pip install --dry-run --report`), run as a separate
interpreter process; `parse_pip_report` turns its JSON report into the lock and is pure.

Limits (by pip's design):
- `--python-version` only selects wheels by tag and `Requires-Python`; environment
  markers in dependencies (`; python_version < "3.12"`) are still evaluated against
  the interpreter running pip. Locks for another Python minor version are therefore
  best effort; run with an interpreter of the target version for exact results.
- Packages without a wheel (sdist only) can only be resolved when the target Python
  equals the running one (pip must build their metadata locally, which also needs
  their build dependencies, e.g. R for `rpy2`). Otherwise `PipResolveError`.
- pip's hash-checking mode is all or nothing: one requirement that cannot carry a hash
  (a VCS checkout, a local directory, a URL without a hash) makes every hash unusable,
  so such locks are written without hashes (with a warning).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from jh_pipeline.settings import DEFAULT_PIP_INDEX_URL

DEFAULT_INDEX_URL = DEFAULT_PIP_INDEX_URL
DEFAULT_TIMEOUT_S = 1800.0
STDERR_TAIL_LINES = 40

# Host pip settings that only affect transport (trust, timeouts, proxies) are kept;
# everything else (index, find-links, constraints, ...) would make the lock depend
# on the machine that resolved it, so it is dropped.
_TRANSPORT_PIP_ENV = frozenset(
    {
        "PIP_CERT",
        "PIP_CLIENT_CERT",
        "PIP_DEFAULT_TIMEOUT",
        "PIP_TIMEOUT",
        "PIP_RETRIES",
        "PIP_PROXY",
        "PIP_TRUSTED_HOST",
        "PIP_CACHE_DIR",
        "PIP_NO_CACHE_DIR",
    }
)


class PipResolveError(RuntimeError):
    """pip could not resolve the requirements; says which input lines were involved."""

    def __init__(self, message: str, stderr_tail: str, origins: Sequence[str]) -> None:
        self.stderr_tail = stderr_tail
        self.origins = list(origins)
        where = "\n".join(f"  {o}" for o in self.origins) or "  (no origins given)"
        super().__init__(f"{message}\nrequirement lines involved:\n{where}\npip said:\n{stderr_tail}")


@dataclass(frozen=True)
class PipLock:
    """A pinned requirements text plus what it pins.

    `pins` maps canonical project names to versions; `hashes` maps names to the
    sha256 of the file pip chose (also when `text` had to leave hashes out).
    """

    text: str
    pins: dict[str, str]
    warnings: list[str]
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PipIndexConfig:
    """Where pip resolves from, and which CA bundle it trusts (None: pip's default)."""

    index_url: str = DEFAULT_INDEX_URL
    ca_bundle: str | None = None

    @classmethod
    def of(cls, index_url: str = "", ca_bundle: str = "") -> PipIndexConfig:
        """From the settings, where "unset" is empty text: empty means pip's default."""
        return cls(index_url=index_url or DEFAULT_INDEX_URL, ca_bundle=ca_bundle or None)


# ---------------------------------------------------------------- pure: report -> lock


def _vcs_pin(name: str, info: Mapping[str, Any]) -> tuple[str, str | None]:
    """`name @ git+url@commit`, or the unpinned line plus a warning."""
    url: str = info["url"]
    vcs_info = info["vcs_info"]
    vcs = vcs_info.get("vcs", "git")
    commit = vcs_info.get("commit_id")
    subdir = info.get("subdirectory")
    fragment = f"#subdirectory={subdir}" if subdir else ""
    if commit:
        return f"{name} @ {vcs}+{url}@{commit}{fragment}", None
    requested = vcs_info.get("requested_revision")
    rev = f"@{requested}" if requested else ""
    return (
        f"{name} @ {vcs}+{url}{rev}{fragment}",
        f"{name}: pip reported no commit for {vcs}+{url}; kept unpinned (not reproducible)",
    )


def _sha256(archive_info: Mapping[str, Any]) -> str | None:
    hashes = archive_info.get("hashes") or {}
    if "sha256" in hashes:
        return str(hashes["sha256"])
    legacy = archive_info.get("hash") or ""  # older reports: "sha256=<hex>"
    algo, _, digest = legacy.partition("=")
    return digest if algo == "sha256" and digest else None


def parse_pip_report(report: Mapping[str, Any], *, python_version: str | None = None) -> PipLock:
    """Turn a pip installation report (format version 1) into a `PipLock`.

    Index packages become `name==version --hash=sha256:...`; VCS requirements are pinned
    to the commit pip checked out. If any line cannot carry a hash, no line gets one.
    """
    if str(report.get("version")) != "1":
        raise ValueError(f"unsupported pip report version {report.get('version')!r} (expected '1')")

    pins: dict[str, str] = {}
    hashes: dict[str, str] = {}
    warnings: list[str] = []
    lines: dict[str, tuple[str, str | None]] = {}  # name -> (requirement, sha256 or None)
    unhashable: list[str] = []

    for item in report.get("install", []):
        meta = item["metadata"]
        name = canonicalize_name(meta["name"])
        version = str(meta["version"])
        info = item["download_info"]
        pins[name] = version
        if "vcs_info" in info:
            req, warning = _vcs_pin(name, info)
            lines[name] = (req, None)
            unhashable.append(name)
            if warning:
                warnings.append(warning)
        elif "dir_info" in info:
            lines[name] = (f"{name} @ {info['url']}", None)
            unhashable.append(name)
            warnings.append(f"{name}: installed from local directory {info['url']}; not reproducible elsewhere")
        else:
            digest = _sha256(info.get("archive_info", {}))
            if digest:
                hashes[name] = digest
            # Direct URLs stay URLs; index packages become plain pins.
            req = f"{name} @ {info['url']}" if item.get("is_direct") else f"{name}=={version}"
            lines[name] = (req, digest)
            if not digest:
                unhashable.append(name)
                warnings.append(f"{name}: no sha256 in pip's report for {info['url']}")
            if not info["url"].split("#")[0].endswith(".whl"):
                warnings.append(
                    f"{name}=={version} is a source distribution (no usable wheel): "
                    "installing it builds from source"
                )

    with_hashes = not unhashable
    if unhashable and hashes:
        warnings.append(
            "lock written without hashes: pip's hash-checking mode cannot verify "
            + ", ".join(sorted(unhashable))
        )
    header = "# Pinned by jh_pipeline from pip's resolution"
    header += f" for Python {python_version}" if python_version else ""
    body = [
        f"{req} --hash=sha256:{digest}" if with_hashes and digest else req
        for req, digest in (lines[n] for n in sorted(lines))
    ]
    text = "\n".join([header + ". Do not edit.", *body]) + "\n" if body else ""
    return PipLock(text=text, pins=dict(sorted(pins.items())), warnings=warnings, hashes=hashes)


# ---------------------------------------------------------------- pure: command lines


def pip_args(
    requirements_file: Path,
    report_file: Path,
    config: PipIndexConfig,
    *,
    python_version: str | None,
    target_dir: Path | None,
) -> list[str]:
    """Arguments after `python -m pip` for a dry-run resolution.

    With `python_version`, only wheels are allowed (pip cannot build for another
    Python) and pip insists on `--target` even for a dry run.
    """
    args = [
        "install",
        "--dry-run",
        "--ignore-installed",
        # No --quiet: pip explains dependency conflicts on stdout at info level.
        "--no-input",
        "--disable-pip-version-check",
        "--report",
        str(report_file),
        "--index-url",
        config.index_url,
    ]
    if config.ca_bundle:
        args += ["--cert", config.ca_bundle]
    if python_version is not None:
        if target_dir is None:
            raise ValueError("pip needs --target with --python-version")
        args += ["--python-version", python_version, "--only-binary=:all:", "--target", str(target_dir)]
    return args + ["-r", str(requirements_file)]


def pip_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The subprocess environment: no pip config files, only transport `PIP_*` variables."""
    env = {k: v for k, v in environ.items() if not k.startswith("PIP_") or k in _TRANSPORT_PIP_ENV}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then skips global, user and site config files
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _major_minor(version: str) -> tuple[int, int]:
    parts = version.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:3]):
        raise ValueError(f"python version must look like 3.11 or 3.11.7, got {version!r}")
    return int(parts[0]), int(parts[1])


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _pip_message(stderr: str, stdout: str) -> str:
    """stderr's tail, plus pip's conflict explanation (printed on stdout) when there is one."""
    message = _tail(stderr or stdout)
    _, found, conflict = stdout.partition("The conflict is caused by:")
    if found:
        message += "\n" + found + "\n" + "\n".join(conflict.strip("\n").splitlines()[:STDERR_TAIL_LINES])
    return message


def _involved_origins(stderr: str, lines: Sequence[str], origins: Sequence[str]) -> list[str]:
    """Origins of the lines pip blames: by `requirements.txt (line N)` references, else
    by project names in its error; all lines if nothing matches."""
    referenced = sorted({int(n) for n in re.findall(r"requirements\.txt \(line (\d+)\)", stderr)})
    hits = [f"{origins[n - 1]}: {lines[n - 1].strip()}" for n in referenced if 0 < n <= len(lines)]
    if hits:
        return hits
    lowered = stderr.lower()
    for line, origin in zip(lines, origins):
        token = line.split(";")[0].strip().split("#egg=")[-1]
        name = token.split("@")[0].split("[")[0]
        for sep in "<>=!~ ":
            name = name.split(sep)[0]
        name = name.strip().rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        if name and (name.lower() in lowered or canonicalize_name(name) in lowered):
            hits.append(f"{origin}: {line.strip()}")
    return hits or [f"{o}: {line.strip()}" for line, o in zip(lines, origins)]


# ---------------------------------------------------------------- effects


def run_pip_report(
    lines: Sequence[str],
    *,
    python_version: str | None,
    config: PipIndexConfig,
    origins: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run pip's dry-run resolver in a fresh process and return its JSON report."""
    with tempfile.TemporaryDirectory(prefix="jh-pip-") as tmp:
        work = Path(tmp)
        requirements = work / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = work / "report.json"
        args = pip_args(
            requirements, report, config, python_version=python_version, target_dir=work / "target"
        )
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pip", *args],
                capture_output=True,
                text=True,
                env=pip_environment(os.environ),
                cwd=work,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise PipResolveError(f"pip timed out after {timeout:.0f} s", _tail(stderr), origins) from exc
        if proc.returncode != 0 or not report.exists():
            raise PipResolveError(
                f"pip could not resolve the requirements (exit {proc.returncode}) against {config.index_url}",
                _pip_message(proc.stderr, proc.stdout),
                _involved_origins(proc.stderr, lines, origins),
            )
        return json.loads(report.read_text(encoding="utf-8"))


def resolve_pip_lock(
    lines: Sequence[str],
    python_version: str,
    *,
    origins: Sequence[str] | None = None,
    config: PipIndexConfig | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> PipLock:
    """Resolve requirement lines to a `PipLock` for `python_version` (e.g. "3.11" or "3.10.19").

    `origins[i]` says where `lines[i]` came from (e.g. "requirements/common/requirements.pip.txt:7").
    Wheels only first; if that fails and the target is the running Python's minor version,
    retry allowing sdists (see the module docstring for the limits).
    """
    config = config or PipIndexConfig()
    origins = list(origins) if origins is not None else [f"line {i + 1}" for i in range(len(lines))]
    if len(origins) != len(lines):
        raise ValueError(f"{len(lines)} requirement lines but {len(origins)} origins")
    if any("\n" in line for line in lines):  # pip's "(line N)" must map back to lines[N-1]
        raise ValueError("requirement lines must not contain newlines")
    if not lines:
        return PipLock(text="", pins={}, warnings=[])

    try:
        report = run_pip_report(
            lines, python_version=python_version, config=config, origins=origins, timeout=timeout
        )
        warnings: list[str] = []
    except PipResolveError as wheels_only:
        if _major_minor(python_version) != sys.version_info[:2]:
            raise PipResolveError(
                f"no wheel-only resolution for Python {python_version}, and sdists can only be "
                f"resolved for the running Python {sys.version_info[0]}.{sys.version_info[1]}",
                wheels_only.stderr_tail,
                wheels_only.origins,
            ) from wheels_only
        report = run_pip_report(lines, python_version=None, config=config, origins=origins, timeout=timeout)
        last = wheels_only.stderr_tail.splitlines()[-1:] or ["no output"]
        warnings = [f"wheel-only resolution failed ({last[0].strip()}); resolved allowing source distributions"]

    lock = parse_pip_report(report, python_version=python_version)
    return PipLock(text=lock.text, pins=lock.pins, warnings=warnings + lock.warnings, hashes=lock.hashes)
