"""`jh-pipeline preflight`: real solver on the local channel, real pip against PyPI, R names against
local CRAN/Bioconductor-like indexes, changed classes from a real git repository."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from jh_pipeline.catalog import load_catalog
from jh_pipeline.catalog.findings import Location
from jh_pipeline.catalog.pip import PipRequirement
from jh_pipeline.cli import main
from jh_pipeline.envs.pip_lock import PipIndexConfig, PipResolveError
from jh_pipeline.preflight import (
    ClassReport, PreflightSettings, RIndexes, changed_class_keys, check_pip, check_r, link_names,
    parse_packages_index, pip_failure_findings, pip_missing_names, run_preflight, select_classes,
    sdist_names_from_warnings,
)
from jh_pipeline.scaffold.workflows import generate
from tests.support.channel import LocalChannel
from tests.support.common import HOST_CA
from tests.support.cran import LocalRIndexes

REPO = Path(__file__).resolve().parents[1]


def write_tree(root: Path, classes: dict[str, dict[str, str]], common: dict[str, str] | None = None) -> Path:
    """requirements/ with common lists and class folders {name: {file: text}}."""
    req = root / "requirements"
    (req / "common").mkdir(parents=True)
    for name, text in (common or {"requirements.txt": "idna\n"}).items():
        (req / "common" / name).write_text(text)
    for cls, files in classes.items():
        folder = req / "classes" / cls
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    return req


def class_yaml(python: str = "3.11", target: str = "base") -> str:
    return f'target: {target}\npython_version: "{python}"\nmysql: false\n'


def channel_settings(channel: LocalChannel, **kw: object) -> PreflightSettings:
    return PreflightSettings(channel_map={"conda-forge": channel.url}, **kw)  # type: ignore[arg-type]


def lines_of(catalog_root: Path, key: str, settings: PreflightSettings) -> tuple[int, list[str]]:
    out: list[str] = []
    rc = run_preflight(load_catalog(catalog_root), [key], settings, out=out.append)
    return rc, out


# --- conda: the local channel ----------------------------------------------------------------


def test_a_solvable_class_passes_and_other_platforms_are_warnings(
    tmp_path: Path, local_channel: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    py = ".".join(local_channel.python_version.split(".")[:2])
    req = write_tree(tmp_path, {"demo": {"class.yaml": class_yaml(py), "requirements.txt": "attrs\npackaging\n"}})

    rc, out = lines_of(req, "demo", channel_settings(local_channel, platforms=("osx-arm64",)))

    assert rc == 0, out
    assert any(line.startswith("requirements/classes/demo/requirements.txt:1: info: linux-64: solved and locked")
               for line in out)
    # The local channel has linux-64 only: students on a Mac cannot create the env, a warning.
    assert any(line.startswith("requirements/classes/demo/requirements.txt:1: warning: students on osx-arm64")
               for line in out), out
    assert not any(": error: " in line for line in out)


def test_an_unsatisfiable_spec_is_an_error_at_its_line(
    tmp_path: Path, local_channel: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    py = ".".join(local_channel.python_version.split(".")[:2])
    req = write_tree(tmp_path, {"demo": {
        "class.yaml": class_yaml(py),
        "requirements.txt": "# class packages\nattrs\nsix >=99\npackaging\n",
    }})

    rc, out = lines_of(req, "demo", channel_settings(local_channel, platforms=()))

    assert rc == 1
    errors = [line for line in out if ": error: " in line]
    assert errors and all(line.startswith("requirements/classes/demo/requirements.txt:3: error: 'six >=99' cannot "
                                          "be solved for linux-64") for line in errors), out


def test_validation_findings_come_first_and_fail_the_run(
    tmp_path: Path, local_channel: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    py = ".".join(local_channel.python_version.split(".")[:2])
    req = write_tree(tmp_path, {"demo": {"class.yaml": class_yaml(py), "requirements.txt": "attrs\nsix ==\n"}})

    rc, out = lines_of(req, "demo", channel_settings(local_channel, platforms=()))

    assert rc == 1
    assert out[0].startswith("requirements/classes/demo/requirements.txt:2: error:"), out


def test_an_unreachable_channel_is_one_line_naming_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    req = write_tree(tmp_path, {"demo": {"class.yaml": class_yaml(), "requirements.txt": "attrs\n"}})

    rc, out = lines_of(req, "demo", PreflightSettings(channel_map={"conda-forge": f"{dead_url()}/chan"}, platforms=()))

    assert rc == 1
    (line,) = [line for line in out if ": error: " in line]
    assert line.startswith("requirements/classes/demo/requirements.txt:1: error: cannot read the conda channel")
    assert "JH_CHANNEL_MAP" in line and "\n" not in line


# --- pip: PyPI -------------------------------------------------------------------------------

# pip's answer for `rpy2` under Python 3.9 (recorded): rpy2 itself is a pure wheel, but
# rpy2-rinterface has no wheel for 3.9, only a source distribution.
RECORDED_RPY2_39 = """\
ERROR: Cannot install -r /tmp/jh-pip-x/requirements.txt (line 1) because these package versions have conflicting dependencies.
The conflict is caused by:
    rpy2 3.6.9 depends on rpy2-rinterface>=3.6.7
    rpy2 3.6.8 depends on rpy2-rinterface>=3.6.7

Additionally, some packages in these conflicts have no matching distributions available for your environment:
    rpy2-rinterface

To fix this you could try to:
"""


def pip_req(name: str, line: int, path: Path = Path("requirements.pip.txt")) -> PipRequirement:
    return PipRequirement(name=name, line=name, specifier="", location=Location(path, line))


def test_pip_failure_classification_on_a_recorded_report() -> None:
    assert pip_missing_names(RECORDED_RPY2_39) == ["rpy2-rinterface"]
    assert pip_missing_names("ERROR: No matching distribution found for Foo_Bar\n") == ["foo-bar"]
    reqs = [pip_req("tabulate", 1), pip_req("rpy2", 2)]
    exc = PipResolveError("no wheel-only resolution", RECORDED_RPY2_39, [])

    (finding,) = pip_failure_findings(exc, reqs, "3.9", sdist_only={"rpy2-rinterface"})
    assert finding.location.line == 2 and finding.is_error
    assert "'rpy2-rinterface' (needed by rpy2) has only a source distribution for Python 3.9" in finding.message
    assert "conda package" in finding.message

    # Not sdist-only (e.g. not on the index at all): a plain resolution error at the lines involved.
    (other,) = pip_failure_findings(exc, reqs, "3.9", sdist_only=set())
    assert other.location.line == 2 and "cannot be resolved for Python 3.9" in other.message

    assert sdist_names_from_warnings(["Rpy2_Rinterface==3.6.7 is a source distribution (no usable wheel): x"]) == [
        "rpy2-rinterface"]
    assert link_names('<a href="../../packages/x/rpy2_rinterface-3.6.7.tar.gz#sha256=ab">f</a>') == [
        "rpy2_rinterface-3.6.7.tar.gz"]


def test_rpy2_under_python_39_is_an_error_suggesting_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against PyPI: rpy2's rinterface has only a source distribution for Python 3.9."""
    monkeypatch.chdir(tmp_path)
    req = write_tree(tmp_path, {"demo": {
        "class.yaml": class_yaml("3.9"), "requirements.txt": "attrs\n", "requirements.pip.txt": "tabulate\nrpy2\n",
    }})
    catalog = load_catalog(req)
    report = ClassReport("demo")
    settings = PreflightSettings(pip=PipIndexConfig(ca_bundle=HOST_CA))

    check_pip(catalog, catalog.classes["demo"], settings, report, log=lambda _: None)

    (finding,) = report.findings
    assert finding.format().startswith("requirements/classes/demo/requirements.pip.txt:2: error: 'rpy2-rinterface' "
                                       "(needed by rpy2) has only a source distribution for Python 3.9")
    assert "use the conda package instead" in finding.message


def test_a_wheel_only_class_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    req = write_tree(tmp_path, {"demo": {
        "class.yaml": class_yaml("3.12"), "requirements.txt": "attrs\n", "requirements.pip.txt": "tabulate==0.9.0\n",
    }})
    catalog = load_catalog(req)
    report = ClassReport("demo")

    check_pip(catalog, catalog.classes["demo"], PreflightSettings(pip=PipIndexConfig(ca_bundle=HOST_CA)), report,
              log=lambda _: None)

    assert report.findings == []
    assert report.notes == ["requirements/classes/demo/requirements.pip.txt:1: info: pip: locked, 1 pins for Python 3.12"]


# --- R: local CRAN-like and Bioconductor-like indexes ----------------------------------------

PACKAGES_R = """\
install.packages(c("jhdemo", "ggplot2"))
install.packages("jhbioc")
BiocManager::install(c("jhbioc", "jhdemo"))
install.packages("jhold")
install.packages("nosuchpkg")
remotes::install_github("owner/repo@v1.0.0")
"""


def r_class(tmp_path: Path) -> Path:
    return write_tree(tmp_path, {"rc": {
        "class.yaml": class_yaml(target="r_lang"), "requirements.txt": "r-base\nr-irkernel\n",
        "packages.R": PACKAGES_R,
    }})


def test_r_names_are_checked_against_cran_and_bioconductor(
    tmp_path: Path, local_r_indexes: LocalRIndexes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = load_catalog(r_class(tmp_path))
    report = ClassReport("rc")

    check_r(catalog.classes["rc"], RIndexes(local_r_indexes.cran_url, local_r_indexes.bioc_url, None), report)

    got = [f.format() for f in report.findings]
    path = "requirements/classes/rc/packages.R"
    assert got == [
        (f"{path}:2: error: 'jhbioc' is a Bioconductor package, which install.packages cannot install: use "
         'BiocManager::install("jhbioc") (after install.packages("BiocManager")), or add bioconductor-jhbioc to '
         "requirements.txt with the bioconda channel"),
        (f"{path}:4: warning: 'jhold' is archived from CRAN (only in src/contrib/Archive/): it may not install "
         "with current R; look for a replacement or pin it with remotes::install_version"),
        f"{path}:5: error: 'nosuchpkg' is neither on CRAN nor on Bioconductor (check the spelling and case)",
    ]


def dead_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_r_index_is_one_line_naming_url_and_setting(
    tmp_path: Path, local_r_indexes: LocalRIndexes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_catalog(r_class(tmp_path)).classes["rc"]
    dead = dead_url()

    for cran, bioc, setting, url in [
        (dead, local_r_indexes.bioc_url, "JH_CRAN_REPO", f"{dead}/src/contrib/PACKAGES"),
        (local_r_indexes.cran_url, dead, "--bioc-repo", f"{dead}/src/contrib/PACKAGES"),
    ]:
        report = ClassReport("rc")
        check_r(spec, RIndexes(cran, bioc, None), report)
        (finding,) = report.findings
        assert finding.format().startswith(f"requirements/classes/rc/packages.R:1: error: cannot read the R package "
                                           f"index {url}")
        assert finding.message.endswith(f"check {setting}")


def test_parse_packages_index() -> None:
    text = "Package: A3\nVersion: 1.0\n\nPackage: org.Hs.eg.db\nDepends: R\n"
    assert parse_packages_index(text) == {"A3", "org.Hs.eg.db"}


# --- which classes: git ------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(repo), *args],
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_changed_classes_from_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = {"class.yaml": class_yaml(), "requirements.txt": "attrs\n"}
    req = write_tree(tmp_path, {"alpha": dict(files), "beta": dict(files), "Gamma-1": dict(files)})
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "start")
    catalog = load_catalog(req)

    # No origin/main here: falls back to main; nothing changed.
    assert select_classes(catalog, req, [], "origin/main") == ([], "no class folder changed against main: nothing to check")
    assert main(["--requirements", str(req), "preflight"]) == 0

    git(tmp_path, "checkout", "-q", "-b", "feature")
    (req / "classes" / "beta" / "requirements.txt").write_text("attrs\nsix\n")
    git(tmp_path, "commit", "-q", "-am", "beta")
    (req / "classes" / "Gamma-1" / "packages.R").write_text("# new, untracked\n")
    (tmp_path / "README.md").write_text("not a class\n")

    assert select_classes(catalog, req, [], "origin/main") == (
        ["beta", "gamma_1"], "classes changed against main: beta, gamma_1")
    (req / "classes" / "alpha" / "requirements.txt").write_text("attrs\nsix\n")  # uncommitted
    assert select_classes(catalog, req, [], "main")[0] == ["alpha", "beta", "gamma_1"]

    # Named classes (key or folder name) need no git; unknown names are refused.
    assert select_classes(catalog, req, ["Gamma-1", "alpha"], "x") == (["gamma_1", "alpha"], "")
    assert select_classes(catalog, req, ["nope"], "main")[0] is None
    assert select_classes(catalog, req, [], "no-such-branch") == (
        None, "error: no-such-branch names no commit: pass --base (e.g. --base origin/main after a git fetch)")


def test_changed_class_keys_common_concerns_every_class(tmp_path: Path) -> None:
    files = {"class.yaml": class_yaml(), "requirements.txt": "attrs\n"}
    catalog = load_catalog(write_tree(tmp_path, {"alpha": dict(files), "beta": dict(files)}))

    assert changed_class_keys(["requirements/classes/beta/class.yaml", "docs/x.md"], catalog) == ["beta"]
    assert changed_class_keys(["requirements/common/requirements.txt"], catalog) == ["alpha", "beta"]
    assert changed_class_keys(["sub/requirements/classes/alpha/x"], catalog, "sub/requirements") == ["alpha"]
    assert changed_class_keys(["requirements/classes/gone/x"], catalog) == []


# --- the generated pull-request workflow -------------------------------------------------------


def test_workflows_generate_the_preflight_workflow(tmp_path: Path) -> None:
    shutil.copytree(REPO / "requirements", tmp_path / "requirements")
    generate(tmp_path)
    text = (tmp_path / ".github" / "workflows" / "preflight.yml").read_text()
    data = yaml.safe_load(text)
    on = data.get("on", data.get(True))

    assert on == {"pull_request": {"paths": ["requirements/**"]}}
    (job,) = data["jobs"].values()
    steps = job["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[-1]["run"] == 'jh-pipeline preflight --base "origin/${{ github.base_ref }}"'
    assert generate(tmp_path) == []  # not stale, not rewritten
    assert (REPO / ".github" / "workflows" / "preflight.yml").read_text() == text  # the committed one is current
