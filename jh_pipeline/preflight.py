"""`jh-pipeline preflight`: everything that can fail before a build, checked without building anything.

Per class: validate, solve the conda env (linux-64; osx-arm64/win-64 as warnings), lock pip for the
class's Python, check packages.R names against the CRAN and Bioconductor `PACKAGES` indexes and
(online only) resolve the Julia packages. Findings use validate's `PATH:LINE: severity: message`.

The pure parts (index parsing, classifying failures into findings, changed-class mapping) are kept
apart from the parts that reach the network or run git; settings come in as a `PreflightSettings`
(the CLI reads the environment).
"""

from __future__ import annotations

import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from tempfile import TemporaryDirectory

from packaging.utils import canonicalize_name

from jh_pipeline.catalog import Catalog, ClassSpec, class_conda_specs, class_pip_requirements
from jh_pipeline.catalog.conda import CondaSpec
from jh_pipeline.catalog.findings import Finding, Location, display_path, error, warning
from jh_pipeline.catalog.model import CLASS_YAML, CONDA_FILE, CONDARC_FILE, JULIA_FILE, PIP_FILE, R_FILE
from jh_pipeline.catalog.pip import PipRequirement
from jh_pipeline.catalog.rscript import RPackage, RSource, parse_r_script
from jh_pipeline.envs.conda import (
    STUDENT_PLATFORMS, ChannelUnreachableError, CondaEnvError, UnsatisfiableError, check_platform, solve_lock,
)
from jh_pipeline.envs.pip_lock import PipIndexConfig, PipResolveError, resolve_pip_lock
from jh_pipeline.settings import DEFAULT_CRAN_REPO, DEFAULT_JULIA_VERSION

DEFAULT_BIOC_REPO = "https://bioconductor.org/packages/release/bioc"
CRAN_SETTING = "JH_CRAN_REPO"
BIOC_SETTING = "--bioc-repo"
FETCH_TIMEOUT_S = 60.0
# Shipped with R itself: never on CRAN, never need installing.
BASE_R_PACKAGES = frozenset({
    "base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods", "parallel", "splines", "stats",
    "stats4", "tcltk", "tools", "utils",
})

Log = Callable[[str], None]


@dataclass(frozen=True)
class PreflightSettings:
    channel_map: Mapping[str, str] = field(default_factory=dict)  # JH_CHANNEL_MAP, parsed
    channel_alias: str | None = None  # JH_CONDA_CHANNEL_ALIAS
    pip: PipIndexConfig = field(default_factory=PipIndexConfig)  # JH_PIP_INDEX_URL, JH_EXTRA_CA_BUNDLE
    cran_repo: str = DEFAULT_CRAN_REPO  # JH_CRAN_REPO
    bioc_repo: str = DEFAULT_BIOC_REPO
    ca_bundle: str | None = None  # JH_EXTRA_CA_BUNDLE
    online: bool = False  # resolve Julia packages too
    platforms: tuple[str, ...] = STUDENT_PLATFORMS  # checked for solvability (warnings)


@dataclass
class ClassReport:
    key: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # `PATH:LINE: info: ...` lines

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.findings)

    def lines(self) -> list[str]:
        return [f.format() for f in _unique(self.findings)] + self.notes


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[Location, str]] = set()
    kept = []
    for finding in findings:
        if (finding.location, finding.message) not in seen:
            seen.add((finding.location, finding.message))
            kept.append(finding)
    return kept


def info(path: Path, line: int, message: str) -> str:
    return f"{display_path(path)}:{line}: info: {message}"


def _one_line(text: str, limit: int = 400) -> str:
    flat = " ".join(part.strip() for part in text.strip().splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# ============================================================== pure: which classes changed


def changed_class_keys(paths: Iterable[str], catalog: Catalog, requirements_rel: str = "requirements") -> list[str]:
    """Class keys whose folders hold one of `paths` (relative to the repository root). A change to
    the common lists concerns every class."""
    prefix = requirements_rel.strip("/") + "/" if requirements_rel.strip("/") not in ("", ".") else ""
    by_folder = {spec.folder.name: key for key, spec in catalog.classes.items()}
    keys: set[str] = set()
    for path in paths:
        if not path.startswith(prefix):
            continue
        parts = path[len(prefix):].split("/")
        if parts[0] == "common" and len(parts) > 1:
            return sorted(catalog.classes)
        if parts[0] == "classes" and len(parts) > 2 and parts[1] in by_folder:
            keys.add(by_folder[parts[1]])
    return sorted(keys)


# ============================================================== pure: R indexes and findings


def parse_packages_index(text: str) -> set[str]:
    """Package names of a CRAN-style `PACKAGES` file (DCF records)."""
    return {m.group(1) for m in re.finditer(r"^Package:\s*([A-Za-z0-9.]+)\s*$", text, re.MULTILINE)}


def r_findings(
    spec: ClassSpec, cran: set[str], bioc: set[str], archived: Callable[[str], bool]
) -> list[Finding]:
    """Findings on the names packages.R installs. `archived(name)`: found in CRAN's Archive/."""
    path = spec.folder / R_FILE
    findings: list[Finding] = []
    if spec.r_script is not None:
        # The same rule validate applies, but with the configured index's names: identical messages.
        _, found = parse_r_script(spec.r_script, path, bioconductor=bioc - cran)
        findings += [f for f in found if f.rule == "r-bioconductor"]
    for package in spec.r_packages:
        findings += _r_package_findings(package, cran, bioc, archived)
    return findings


def _r_package_findings(
    package: RPackage, cran: set[str], bioc: set[str], archived: Callable[[str], bool]
) -> list[Finding]:
    name, where = package.name, package.location
    if package.source is RSource.GITHUB or name in cran:
        return []
    if name in bioc:
        return []  # through install.packages: r_findings' Bioconductor rule says so
    if name in BASE_R_PACKAGES:
        return [warning(where.path, where.line, "r-base-package",
                        f"'{name}' comes with R itself: no need to install it")]
    if archived(name):
        return [warning(where.path, where.line, "r-archived",
                        f"'{name}' is archived from CRAN (only in src/contrib/Archive/): it may not install "
                        f"with current R; look for a replacement or pin it with remotes::install_version")]
    return [error(where.path, where.line, "r-unknown",
                  f"'{name}' is neither on CRAN nor on Bioconductor (check the spelling and case)")]


# ============================================================== pure: conda failures


def _python_location(spec: ClassSpec) -> Location:
    path = spec.folder / CLASS_YAML
    if path.is_symlink():  # never read through links (validate reports them)
        return Location(path, 1)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Location(path, 1)
    line = next((n for n, t in enumerate(text.splitlines(), 1) if t.lstrip().startswith("python")), 1)
    return Location(path, line)


def unsatisfiable_findings(
    exc: UnsatisfiableError, lines: Sequence[CondaSpec], python_at: Location, platform: str = "linux-64"
) -> list[Finding]:
    """One error per requirements line the solver blames (every line when it names none)."""
    by_name: dict[str, list[CondaSpec]] = {}
    for line in lines:
        by_name.setdefault(line.name, []).append(line)
    involved = [n.lower() for n in exc.involved] or list(by_name)
    why = _one_line(exc.explanation or str(exc))
    found: list[Finding] = []
    for name in involved:
        places = [(s.location, s.raw) for s in by_name.get(name, [])]
        if not places and name == "python":
            places = [(python_at, "python_version")]
        for location, raw in places:
            found.append(error(location.path, location.line, "conda-unsatisfiable",
                               f"'{raw}' cannot be solved for {platform}: {why}"))
    if not found:  # the solver names only dependencies: blame every line
        for line in lines:
            found.append(error(line.location.path, line.location.line, "conda-unsatisfiable",
                               f"'{line.raw}' cannot be solved for {platform}: {why}"))
    return found


# ============================================================== pure: pip failures


_NO_MATCH = re.compile(r"No matching distribution found for ([A-Za-z0-9._-]+)")
_NO_DIST_BLOCK = re.compile(r"no matching distributions available for your environment:\n((?:[ \t]+\S.*\n?)+)")
_SDIST_WARNING = re.compile(r"^(\S+)==\S+ is a source distribution")


def pip_missing_names(pip_output: str) -> list[str]:
    """Projects pip found no usable distribution of, from its error output."""
    names = [m.group(1) for m in _NO_MATCH.finditer(pip_output)]
    for block in _NO_DIST_BLOCK.finditer(pip_output):
        names += [line.strip() for line in block.group(1).splitlines() if line.strip()]
    return list(dict.fromkeys(canonicalize_name(n) for n in names))


def sdist_names_from_warnings(warnings: Iterable[str]) -> list[str]:
    """Projects a resolution had to take as source distributions (PipLock warnings)."""
    return [canonicalize_name(m.group(1)) for w in warnings if (m := _SDIST_WARNING.match(w))]


def _blamed(name: str, reqs: Sequence[PipRequirement], pip_output: str) -> list[PipRequirement]:
    """The requirement lines that bring in `name`: its own line, else the lines pip's output
    names (e.g. `rpy2 3.6.9 depends on rpy2-rinterface`), else all."""
    own = [r for r in reqs if r.name == name]
    if own:
        return own
    lowered = pip_output.lower()
    named = [r for r in reqs if re.search(rf"(?<![\w.-]){re.escape(r.name)}(?![\w-])", lowered)]
    return named or list(reqs)


def sdist_only_findings(
    names: Iterable[str], reqs: Sequence[PipRequirement], python_version: str, pip_output: str = ""
) -> list[Finding]:
    found = []
    for name in names:
        for req in _blamed(name, reqs, pip_output):
            via = "" if req.name == name else f" (needed by {req.name})"
            found.append(error(
                req.location.path, req.location.line, "pip-sdist-only",
                f"'{name}'{via} has only a source distribution for Python {python_version}, so the image "
                f"would compile it: use the conda package instead (add {req.name} to requirements.txt, "
                f"e.g. from conda-forge, and drop this line)",
            ))
    return found


def pip_failure_findings(
    exc: PipResolveError, reqs: Sequence[PipRequirement], python_version: str, sdist_only: set[str]
) -> list[Finding]:
    """A failed pip resolution: sdist-only projects as such, anything else once per involved line."""
    output = exc.stderr_tail
    found = sdist_only_findings([n for n in pip_missing_names(output) if n in sdist_only], reqs, python_version,
                                output)
    if found:
        return found
    missing = pip_missing_names(output)
    blamed = {id(r): r for n in missing for r in _blamed(n, reqs, output)} if missing else {}
    targets = list(blamed.values()) or [r for r in reqs if r.name in output.lower()] or list(reqs)
    why = _one_line(str(exc).split("\n", 1)[0] + ": " + output, 500)
    return [error(r.location.path, r.location.line, "pip-unresolvable",
                  f"'{r.line}' cannot be resolved for Python {python_version}: {why}") for r in targets]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.names.append(href.split("#")[0].rstrip("/").rsplit("/", 1)[-1])


def link_names(html: str) -> list[str]:
    """The last path part of every link of an HTML page (a simple index or a directory listing)."""
    parser = _Links()
    parser.feed(html)
    return parser.names


def has_sdist(file_names: Iterable[str]) -> bool:
    return any(n.endswith((".tar.gz", ".zip", ".tar.bz2")) for n in file_names)


# ============================================================== network


class IndexUnreachable(Exception):
    pass


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)  # in addition to the system's
    return context


def fetch(url: str, ca_bundle: str | None, *, missing_ok: bool = False, timeout: float = FETCH_TIMEOUT_S) -> str | None:
    """GET `url` as text; None for a 404 when `missing_ok`. Raises IndexUnreachable otherwise."""
    request = urllib.request.Request(url, headers={"User-Agent": "jh-pipeline-preflight"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_ssl_context(ca_bundle)) as response:
            return response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if missing_ok and exc.code == 404:
            return None
        raise IndexUnreachable(f"{url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise IndexUnreachable(f"{url}: {reason}") from exc


class RIndexes:
    """CRAN and Bioconductor package names, fetched once per run."""

    def __init__(self, cran_repo: str, bioc_repo: str, ca_bundle: str | None) -> None:
        self.cran_repo, self.bioc_repo, self.ca_bundle = cran_repo.rstrip("/"), bioc_repo.rstrip("/"), ca_bundle
        self._names: dict[str, set[str] | IndexUnreachable] = {}
        self._archived: dict[str, bool] = {}

    def names(self, which: str) -> set[str]:
        if which not in self._names:
            repo, setting = (self.cran_repo, CRAN_SETTING) if which == "cran" else (self.bioc_repo, BIOC_SETTING)
            url = f"{repo}/src/contrib/PACKAGES"
            try:
                self._names[which] = parse_packages_index(fetch(url, self.ca_bundle) or "")
            except IndexUnreachable as exc:
                self._names[which] = IndexUnreachable(f"cannot read the R package index {exc}; check {setting}")
        found = self._names[which]
        if isinstance(found, IndexUnreachable):
            raise found
        return found

    def archived(self, name: str) -> bool:
        if name not in self._archived:
            url = f"{self.cran_repo}/src/contrib/Archive/{name}/"
            try:
                self._archived[name] = fetch(url, self.ca_bundle, missing_ok=True) is not None
            except IndexUnreachable as exc:
                raise IndexUnreachable(f"cannot read CRAN's archive {exc}; check {CRAN_SETTING}") from exc
        return self._archived[name]


def pip_sdist_only(names: Iterable[str], config: PipIndexConfig) -> set[str]:
    """Of `names` (no usable wheel found), those the index has a source distribution of."""
    found = set()
    for name in names:
        try:
            page = fetch(f"{config.index_url.rstrip('/')}/{name}/", config.ca_bundle, missing_ok=True)
        except IndexUnreachable:
            continue  # reported as unresolvable instead
        if page is not None and has_sdist(link_names(page)):
            found.add(name)
    return found


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def resolve_base(repo: Path, base: str) -> str | None:
    """`base` if it names a commit, else `main` when `base` is the default `origin/main`."""
    for candidate in dict.fromkeys([base, "main"] if base == "origin/main" else [base]):
        if _git(repo, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}").returncode == 0:
            return candidate
    return None


def changed_paths(repo: Path, base: str) -> list[str]:
    """Files changed on this branch since it left `base`, plus uncommitted and untracked ones,
    relative to the repository's top folder."""
    outputs = [
        _git(repo, "diff", "--name-only", f"{base}...HEAD"),
        _git(repo, "diff", "--name-only", "HEAD"),
        _git(repo, "ls-files", "--others", "--exclude-standard"),
    ]
    for done in outputs:
        if done.returncode != 0:
            raise RuntimeError(f"git failed: {done.stderr.strip()}")
    return sorted({line for done in outputs for line in done.stdout.splitlines() if line})


def repo_top(path: Path) -> Path | None:
    done = _git(path, "rev-parse", "--show-toplevel")
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def select_classes(
    catalog: Catalog, requirements: Path, named: Sequence[str], base: str
) -> tuple[list[str] | None, str]:
    """(class keys to check, a message for stderr). None: cannot tell, exit 1; []: nothing changed."""
    if named:
        by_name = {spec.folder.name: key for key, spec in catalog.classes.items()} | {k: k for k in catalog.classes}
        unknown = [n for n in named if n not in by_name]
        if unknown:
            return None, f"error: no class {', '.join(repr(n) for n in unknown)} in {display_path(catalog.root)}"
        return list(dict.fromkeys(by_name[n] for n in named)), ""
    top = repo_top(Path(requirements).resolve())
    if top is None:
        return None, f"error: {requirements} is not in a git repository: name the classes to check"
    resolved = resolve_base(top, base)
    if resolved is None:
        tried = f"{base} nor main" if base == "origin/main" else base
        return None, f"error: {tried} names no commit: pass --base (e.g. --base origin/main after a git fetch)"
    try:
        paths = changed_paths(top, resolved)
    except RuntimeError as exc:
        return None, f"error: {exc}"
    rel = Path(requirements).resolve().relative_to(top.resolve()).as_posix()
    keys = changed_class_keys(paths, catalog, rel)
    if not keys:
        return [], f"no class folder changed against {resolved}: nothing to check"
    return keys, f"classes changed against {resolved}: {', '.join(keys)}"


# ============================================================== one class


def _map_channels(channels: tuple[str, ...], mapping: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(mapping.get(c, c) for c in channels))  # as defs.resources.map_channels


def check_conda(catalog: Catalog, spec: ClassSpec, settings: PreflightSettings, report: ClassReport, log: Log) -> None:
    assert spec.config is not None
    conda_specs, _ = class_conda_specs(catalog.common, spec)
    lines = [*catalog.common.conda, *spec.conda]
    channels = _map_channels(spec.channels, settings.channel_map)
    conda_file = spec.folder / CONDA_FILE
    origins = {}
    for line in lines:
        origins.setdefault(line.name, str(line.location))
    log(f"{spec.key}: solving {len(conda_specs)} conda specs for linux-64 from {', '.join(channels)}")
    try:
        solution = solve_lock([s.spec for s in conda_specs], channels, spec.config.python_version, origins=origins,
                              alias=settings.channel_alias)
    except UnsatisfiableError as exc:
        report.findings += unsatisfiable_findings(exc, lines, _python_location(spec))
        return
    except ChannelUnreachableError as exc:
        where = spec.folder / CONDARC_FILE if (spec.folder / CONDARC_FILE).is_file() else conda_file
        report.findings.append(error(where, 1, "conda-channel", _one_line(str(exc))))
        return
    except (CondaEnvError, ValueError) as exc:
        report.findings.append(error(conda_file, 1, "conda-solve", _one_line(str(exc))))
        return
    report.notes.append(info(conda_file, 1, f"linux-64: solved and locked, {len(solution.records)} packages"))
    no_builds = sorted({f"{r.name.normalized}={r.version}" for r in solution.records})
    for platform in settings.platforms:
        ok, message = check_platform(no_builds, channels, platform, alias=settings.channel_alias)
        if ok:
            report.notes.append(info(conda_file, 1, f"{platform}: solvable"))
        else:
            detail = _one_line(message.split("\n", 1)[-1], 300)
            report.findings.append(warning(conda_file, 1, "conda-platform",
                                           f"students on {platform} cannot create this env: {detail}"))


def check_pip(catalog: Catalog, spec: ClassSpec, settings: PreflightSettings, report: ClassReport, log: Log) -> None:
    assert spec.config is not None
    reqs, _ = class_pip_requirements(catalog.common, spec)
    if not reqs:
        return
    python = spec.config.python_version
    log(f"{spec.key}: locking {len(reqs)} pip requirements for Python {python}")
    try:
        lock = resolve_pip_lock([r.line for r in reqs], python, origins=[str(r.location) for r in reqs],
                                config=settings.pip)
    except PipResolveError as exc:
        sdist_only = pip_sdist_only(pip_missing_names(exc.stderr_tail), settings.pip)
        report.findings += pip_failure_findings(exc, reqs, python, sdist_only)
        return
    except (ValueError, OSError) as exc:
        report.findings.append(error(spec.folder / PIP_FILE, 1, "pip-lock", _one_line(str(exc))))
        return
    sdists = sdist_names_from_warnings(lock.warnings)
    report.findings += sdist_only_findings(sdists, reqs, python)
    report.notes.append(info(spec.folder / PIP_FILE, 1, f"pip: locked, {len(lock.pins)} pins for Python {python}"))


def check_r(spec: ClassSpec, indexes: RIndexes, report: ClassReport) -> None:
    path = spec.folder / R_FILE
    try:
        cran, bioc = indexes.names("cran"), indexes.names("bioc")
        report.findings += r_findings(spec, cran, bioc, indexes.archived)
    except IndexUnreachable as exc:
        report.findings.append(error(path, 1, "r-index", str(exc)))


def check_julia(spec: ClassSpec, settings: PreflightSettings, report: ClassReport, log: Log) -> None:
    path = spec.folder / JULIA_FILE
    if not settings.online:
        report.notes.append(info(path, 1, "Julia packages not resolved (offline; run with --online)"))
        return
    from jh_pipeline.envs.julia import resolve_julia_env, runner_from_env

    log(f"{spec.key}: resolving {len(spec.julia)} Julia packages")
    with TemporaryDirectory() as tmp:
        try:
            env = resolve_julia_env([p.name for p in spec.julia], DEFAULT_JULIA_VERSION, Path(tmp),
                                    runner_from_env(DEFAULT_JULIA_VERSION))
        except Exception as exc:  # noqa: BLE001 - any failure is this class's finding, not a traceback
            report.findings.append(error(path, 1, "julia-resolve", _one_line(f"{type(exc).__name__}: {exc}")))
            return
    report.findings += [warning(path, 1, "julia-resolve", w) for w in env.warnings]
    report.notes.append(info(path, 1, f"Julia: resolved, {len(env.packages)} packages"))


def preflight_class(
    catalog: Catalog, key: str, settings: PreflightSettings, indexes: RIndexes, log: Log = lambda _: None
) -> ClassReport:
    spec = catalog.classes[key]
    report = ClassReport(key, findings=list(spec.findings))
    if spec.config is None:
        report.notes.append(info(spec.folder / CLASS_YAML, 1, "no usable class.yaml: nothing else checked"))
        return report
    check_conda(catalog, spec, settings, report, log)
    check_pip(catalog, spec, settings, report, log)
    if spec.config.target.uses_r:
        check_r(spec, indexes, report)
    if spec.config.target.uses_julia and spec.julia:
        check_julia(spec, settings, report, log)
    return report


def run_preflight(
    catalog: Catalog, keys: Sequence[str], settings: PreflightSettings, out: Log = print, log: Log = lambda _: None
) -> int:
    """Check `keys`, printing each finding line with `out`; 1 if any error (common ones included)."""
    indexes = RIndexes(settings.cran_repo, settings.bioc_repo, settings.ca_bundle or settings.pip.ca_bundle)
    common = _unique(catalog.findings)
    for finding in common:
        out(finding.format())
    failed = any(f.is_error for f in common)
    for key in keys:
        report = preflight_class(catalog, key, settings, indexes, log)
        for line in report.lines():
            out(line)
        failed = failed or report.has_errors
    return 1 if failed else 0
