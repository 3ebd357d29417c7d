"""Hostile or broken input: it stays the problem of the one class (or file) that has it, and leaks nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from jh_pipeline.catalog import files, load_catalog, load_catalog_settings
from jh_pipeline.catalog.settings import CatalogSettings
from jh_pipeline.cli import main
from tests.catalog.conftest import BASE_CLASS, R_CLASS, MakeCatalog, lines, write_tree

RANDOM_BYTES = bytes([0x89, 0xFF, 0xFE, 0x00, 0xC3, 0x28, 0xA0, 0xA1]) * 16


# --- files that are not UTF-8 text ---------------------------------------------------------------

def test_not_utf8_file_is_an_error_of_its_class_only(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({
        "c1": {**BASE_CLASS, "requirements.txt": RANDOM_BYTES},
        "c2": {**BASE_CLASS, "class.yaml": RANDOM_BYTES},
        "c3": {**R_CLASS, "packages.R": RANDOM_BYTES, "requirements.pip.txt": b"six\n\xff\n"},
        "ok": BASE_CLASS,
    })
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:1: error: not UTF-8 text",
        "requirements/classes/c2/class.yaml:1: error: not UTF-8 text",
        "requirements/classes/c3/packages.R:1: error: not UTF-8 text",
        "requirements/classes/c3/requirements.pip.txt:1: error: not UTF-8 text",
    ]
    assert sorted(catalog.classes) == ["c1", "c2", "c3", "ok"]
    assert all(catalog.class_has_errors(key) for key in ("c1", "c2", "c3"))
    assert catalog.classes["c2"].config is None
    assert catalog.classes["ok"].ok and catalog.errors_of("ok") == []


def test_not_utf8_common_list_is_reported_not_raised(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"ok": BASE_CLASS}, common={"requirements.txt": "ipykernel\n", "apt.txt": RANDOM_BYTES})
    assert lines(catalog) == ["requirements/common/apt.txt:1: error: not UTF-8 text"]
    assert catalog.class_has_errors("ok")  # the common lists are every class's


def test_validate_reports_not_utf8_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path / "requirements", {"requirements.txt": "ipykernel\n"},
               {"bad": {**BASE_CLASS, "requirements.txt": RANDOM_BYTES}, "good": BASE_CLASS})
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 1
    out, err = capsys.readouterr()
    assert out == "requirements/classes/bad/requirements.txt:1: error: not UTF-8 text\n"
    assert err == "2 classes checked: 1 error(s), 0 warning(s)\n"


def test_a_huge_file_is_not_read(make_catalog: MakeCatalog) -> None:
    huge = "numpy\n" * (files.MAX_FILE_BYTES // 6 + 1)
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.txt": huge}, "ok": BASE_CLASS})
    assert lines(catalog) == ["requirements/classes/c1/requirements.txt:1: error: larger than 1024 KiB; it was not read"]
    assert catalog.classes["c1"].conda == ()


def test_an_unexpected_failure_in_one_class_never_stops_the_load(
    make_catalog: MakeCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jh_pipeline.catalog import load as load_module

    real = load_module.parse_apt_list

    def explode(text: str, path: Path):
        if "boom" in text:
            raise RuntimeError("parser bug")
        return real(text, path)

    monkeypatch.setattr(load_module, "parse_apt_list", explode)
    catalog = make_catalog({"c1": {**BASE_CLASS, "apt.txt": "boom\n"}, "ok": BASE_CLASS})
    assert lines(catalog) == ["requirements/classes/c1:1: error: the class could not be read (RuntimeError)"]
    assert catalog.classes["c1"].has_errors and catalog.classes["ok"].ok


# --- symbolic links ----------------------------------------------------------------------------

def test_symlink_out_of_the_tree_is_never_read_or_echoed(tmp_path: Path) -> None:
    canary = f"JH_CANARY_{uuid.uuid4().hex}"
    env = {**os.environ, "JH_TEST_SECRET": canary}
    tree = write_tree(tmp_path / "requirements", {"requirements.txt": "ipykernel\n"},
                      {"leak": BASE_CLASS, "good": BASE_CLASS})
    (tree / "classes" / "leak" / "requirements.txt").unlink()
    (tree / "classes" / "leak" / "requirements.txt").symlink_to("/proc/self/environ")
    (tree / "classes" / "leak" / "requirements.pip.txt").symlink_to("/proc/self/environ")

    # The target would leak: a process started the same way sees the canary there.
    seen = subprocess.run([sys.executable, "-c", "import sys; sys.stdout.buffer.write(open('/proc/self/environ', 'rb').read())"],
                          env=env, capture_output=True, check=True)
    assert canary.encode() in seen.stdout

    done = subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "validate"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)
    assert canary not in done.stdout + done.stderr
    assert "JH_TEST_SECRET" not in done.stdout + done.stderr
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "requirements/classes/leak/requirements.pip.txt:1: error: 'requirements.pip.txt' is a symbolic link leading "
        "outside the requirements tree; it was not read (commit the file itself)",
        "requirements/classes/leak/requirements.txt:1: error: 'requirements.txt' is a symbolic link leading "
        "outside the requirements tree; it was not read (commit the file itself)",
    ]
    assert "/proc" not in done.stdout  # the link's target is never named


def test_symlinks_inside_the_tree_are_followed_and_outside_ones_not(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("secretpkg\n")
    (outside / "class.yaml").write_text(BASE_CLASS["class.yaml"])
    root = write_tree(tmp_path / "requirements", {"requirements.txt": "ipykernel\n"},
                      {"inside": {"class.yaml": BASE_CLASS["class.yaml"]}, "relative": {"class.yaml": BASE_CLASS["class.yaml"]}})
    (root / "classes" / "inside" / "requirements.txt").symlink_to("../../common/requirements.txt")
    (root / "classes" / "relative" / "requirements.txt").symlink_to("../../../outside/requirements.txt")
    (root / "classes" / "linked").symlink_to(outside)  # a whole class folder

    catalog = make_catalog({})
    assert lines(catalog) == [
        "requirements/classes/linked:1: error: class folder 'linked' is a symbolic link leading outside the "
        "requirements tree; it was not read",
        "requirements/classes/relative/requirements.txt:1: error: 'requirements.txt' is a symbolic link leading "
        "outside the requirements tree; it was not read (commit the file itself)",
    ]
    assert [s.name for s in catalog.classes["inside"].conda] == ["ipykernel"]
    assert catalog.classes["relative"].conda == () and catalog.classes["linked"].config is None


# --- class.yaml that does not validate ----------------------------------------------------------

@pytest.mark.parametrize(("text", "finding"), [
    ("- target: base\n- python_version: '3.11'\n", "class.yaml:1: error: class.yaml must be a mapping of settings"),
    ("target: base\npython_version: 3.10\n", "class.yaml:2: error: python_version: write the version as a quoted string"),
])
def test_a_class_whose_class_yaml_is_invalid_stays_in_the_catalog(make_catalog: MakeCatalog, text: str, finding: str) -> None:
    catalog = make_catalog({"broken": {**BASE_CLASS, "class.yaml": text}, "ok": BASE_CLASS})
    spec = catalog.classes["broken"]
    assert spec.config is None and spec.has_errors
    [error] = catalog.errors_of("broken")
    assert error.format().startswith(f"requirements/classes/broken/{finding}")
    assert catalog.common_errors == [] and not catalog.class_has_errors("ok")


# --- reserved names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", ["common", "Common"])
def test_common_is_no_class_name(make_catalog: MakeCatalog, folder: str) -> None:
    catalog = make_catalog({folder: BASE_CLASS, "ok": BASE_CLASS})
    assert f"requirements/classes/{folder}/class.yaml:1: error: '{folder}' cannot be a class name: 'common' is " \
           "reserved for the shared lists (requirements/common); rename the folder" in lines(catalog)
    assert sorted(catalog.classes) == ["ok"]  # never an asset under common/
    assert [s.folder.name for s in catalog.left_out] == [folder]
    assert not catalog.class_has_errors("ok")


# --- folders that hold classes --------------------------------------------------------------------

def test_a_folder_of_old_classes_is_skipped_with_a_warning(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"archive/old1": BASE_CLASS, "archive/2024/old2": BASE_CLASS, "current": BASE_CLASS})
    assert lines(catalog) == [
        "requirements/classes/archive:1: warning: 'archive' is not a class folder (no class.yaml) and holds class "
        "folders, which are skipped: archive/2024/old2, archive/old1",
    ]
    assert sorted(catalog.classes) == ["current"]


def test_an_empty_folder_is_still_a_class_missing_its_files(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    (tmp_path / "requirements" / "classes" / "new").mkdir(parents=True)
    catalog = make_catalog({"ok": BASE_CLASS})
    assert lines(catalog) == [
        "requirements/classes/new/class.yaml:1: error: required file is missing",
        "requirements/classes/new/requirements.txt:1: error: required file is missing",
    ]


# --- condarc channels ---------------------------------------------------------------------------------

CONDARC = """\
channels:
  - conda-forge
  - nvidia/label/cuda-12.1.0
  - https://conda.example.org/mirror/bioconda
  - file:///etc
  - /opt/channels/local
  - ./channel
  - s3://bucket/channel
  - C:\\channels\\local
"""


def test_local_channels_are_errors(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "condarc": CONDARC}, "ok": BASE_CLASS})
    found = lines(catalog)
    assert [f.split(": error: ")[0] for f in found] == [f"requirements/classes/c1/condarc:{n}" for n in (5, 6, 7, 8, 9)]
    assert found[0] == (
        "requirements/classes/c1/condarc:5: error: channel 'file:///etc' is a local path or a non-http(s) URL, which "
        "the build cannot use and validation will not read; use a channel name or an https URL (a site with local "
        "channels sets `catalog: {allow_local_channels: true}` in jh_pipeline.yaml)"
    )
    assert catalog.class_has_errors("c1") and not catalog.class_has_errors("ok")


def test_local_channels_allowed_by_the_site(make_catalog: MakeCatalog, tmp_path: Path) -> None:
    (tmp_path / "jh_pipeline.yaml").write_text("server:\n  python_version: '3.11'\ncatalog:\n  allow_local_channels: true\n")
    catalog = make_catalog({"c1": {**BASE_CLASS, "condarc": CONDARC}})
    assert lines(catalog) == []
    assert catalog.classes["c1"].channels[3] == "file:///etc"
    # Passed in explicitly, the settings win over the file.
    assert len(lines(make_catalog({"c1": {**BASE_CLASS, "condarc": CONDARC}}, settings=CatalogSettings()))) == 5


@pytest.mark.parametrize(("text", "message"), [
    ("catalog:\n  allow_local_channel: true\n", "jh_pipeline.yaml:1: error: `catalog:` allow_local_channel: Extra inputs"),
    ("server: {}\ncatalog: [x]\n", "jh_pipeline.yaml:2: error: `catalog:` must be a mapping of settings"),
])
def test_a_broken_catalog_section_is_a_finding(make_catalog: MakeCatalog, tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "jh_pipeline.yaml").write_text(text)
    catalog = make_catalog({"c1": BASE_CLASS})
    [finding] = lines(catalog)
    assert finding.startswith(message)


def test_catalog_settings_loader(tmp_path: Path) -> None:
    assert load_catalog_settings(tmp_path) == (CatalogSettings(), [])  # no file
    (tmp_path / "jh_pipeline.yaml").write_text("workflows: {gcp_auth: key}\n")
    assert load_catalog_settings(tmp_path) == (CatalogSettings(), [])  # no section
    (tmp_path / "jh_pipeline.yaml").write_text("catalog:\n  allow_local_channels: true\n")
    assert load_catalog_settings(tmp_path) == (CatalogSettings(allow_local_channels=True), [])


def test_a_catalog_with_no_settings_file_uses_the_defaults(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "requirements", {"requirements.txt": "ipykernel\n"},
                      {"c1": {**BASE_CLASS, "condarc": "channels: [file:///srv/channel]\n"}})
    assert [f.rule for f in load_catalog(root).all_findings()] == ["local-channel"]
