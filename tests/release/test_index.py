"""The student index: rendered for the seeded tree, then loaded in headless Chromium.

Chromium is a hard requirement (scripts/setup.sh installs it): a missing browser fails the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from jh_pipeline.catalog import load_catalog
from jh_pipeline.envs.student_readme import render_student_readme
from jh_pipeline.store import LocalStore
from jh_pipeline.release.index import (
    IndexEntry,
    PointerView,
    collect_index_entries,
    indexed_sets,
    publish_semester_index,
    render_semester_index,
)

REPO = Path(__file__).resolve().parents[2]
SEMESTER = "spring-2026"
REGISTRY = "127.0.0.1:5000"
SEEDED = {  # class -> (target, python version), as written in requirements/classes/*/class.yaml
    "apma0365": ("base", "3.10.19"),
    "biol1435": ("r_lang", "3.12.12"),
    "ccv_bootcamp": ("r_julia", "3.9.23"),
    "eeps1430": ("base", "3.9.17"),
    "mpa2065": ("r_julia", "3.9.17"),
    "neur1630": ("base", "3.9.17"),
    "php1560": ("r_lang", "3.9.23"),
    "php2560": ("r_lang", "3.9.23"),
    "php2650": ("r_julia", "3.11"),
    "php2691": ("r_lang", "3.9.17"),
}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# --- fake but realistic env sets ----------------------------------------------------------------


def conda_set(name: str, python: str, target: str, *, pip: bool, solvable: dict[str, bool]) -> dict[str, bytes]:
    files = {
        "conda-linux-64.lock": f"# platform: linux-64\n@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/linux-64/python-{python}-h1_0_cpython.conda#0123abcd\n",
        "environment.yml": f"name: {name}\nchannels:\n  - conda-forge\ndependencies:\n  - python={python}=h1_0_cpython\n  - numpy=2.1.3=py_0\n",
        "environment.nb.yml": f"name: {name}\nchannels:\n  - conda-forge\ndependencies:\n  - python={python}\n  - numpy=2.1.3\n",
        "packages.txt": "python\nnumpy\n",
        "conda-lock.yml": "version: 6\nenvironments: {}\npackages: []\n",
    }
    if pip:
        files["requirements.pip.lock"] = "otter-grader==6.1.0 \\\n    --hash=sha256:00ff\n"
    files["README.md"] = render_student_readme(
        class_name=name, semester=SEMESTER, python_version=python, target=target,
        files=list(files), solvable=solvable, pip_lock_hashed=pip,
    )
    return {f"conda/{k}": v.encode() for k, v in files.items()}


def julia_set() -> dict[str, bytes]:
    return {
        "julia/Project.toml": b'[deps]\nIJulia = "7073ff75-c697-5162-941a-fcdaad2a7d2a"\n',
        "julia/Manifest.toml": b'julia_version = "1.10.4"\nmanifest_format = "2.0"\n',
    }


def release(store: LocalStore, name: str, set_id: str, files: dict[str, bytes], solvable: dict[str, bool]) -> None:
    store.publish_set(SEMESTER, name, set_id, files, solvable=solvable)  # as the solve recorded it
    store.switch_latest(SEMESTER, name, set_id)


@pytest.fixture
def published(tmp_path: Path) -> tuple[LocalStore, str]:
    """A store with three released classes (one released twice) and seven not released."""
    store = LocalStore(tmp_path / "store")
    mixed = {"linux-64": True, "osx-64": True, "osx-arm64": True, "win-64": False}
    linux = {"linux-64": True}
    release(store, "apma0365", "old0000000000", conda_set("apma0365", "3.10.19", "base", pip=False, solvable=linux), linux)
    release(store, "apma0365", "c0ffee1234ab", conda_set("apma0365", "3.10.19", "base", pip=True, solvable=mixed), mixed)
    release(store, "biol1435", "b10b10b10b10", conda_set("biol1435", "3.12.12", "r_lang", pip=False, solvable=linux), linux)
    release(store, "mpa2065", "feed00feed00",
            {**conda_set("mpa2065", "3.9.17", "r_julia", pip=True, solvable=mixed), **julia_set()}, mixed)
    store.switch_pointer(SEMESTER, "apma0365", "production", "old0000000000")  # production lags behind latest
    catalog = load_catalog(REPO / "requirements")
    key = publish_semester_index(store, SEMESTER, catalog, REGISTRY, "production")
    return store, key


# --- HTML helpers -----------------------------------------------------------------------------------


class Page(HTMLParser):
    """Anchors (href) and the text of each class section (by data-class)."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.sections: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(attributes["href"] or "")
        if tag == "section":
            self._current = attributes.get("data-class")
            if self._current:
                self.sections[self._current] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current:
            self.sections[self._current] += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


# --- rendering ------------------------------------------------------------------------------------


def test_index_lists_every_seeded_class(published: tuple[LocalStore, str]) -> None:
    store, key = published
    assert key == f"{SEMESTER}/index.html"
    page = parse((store.root / key).read_text())

    assert set(page.sections) == set(SEEDED)
    for name, (target, python) in SEEDED.items():
        text = " ".join(page.sections[name].split())
        assert f"Target {target}" in text and f"Python {python}" in text, name
        released = name in {"apma0365", "biol1435", "mpa2065"}
        assert ("not released yet" in text) is not released, name

    apma = " ".join(page.sections["apma0365"].split())
    for tag in ("latest", SEMESTER, "c0ffee1234ab"):
        assert f"{REGISTRY}/apma0365:{tag}" in apma
    # The hub runs production (JH_HUB_TAG's default): the recipe is that of the first release, which
    # has no pip lock; the second (latest) is listed with its own files.
    assert "Production the hub runs this" in apma and "Latest build" in apma
    assert "apma0365/past/old0000000000/conda/environment.yml" in apma
    assert "apma0365/past/c0ffee1234ab/conda/requirements.pip.lock" in apma
    assert "pip install -r requirements.pip.lock" not in apma
    assert "micromamba create -n apma0365 -f conda-linux-64.lock" in apma
    assert "conda env create -n apma0365 -f environment.nb.yml" in apma
    assert "Linux x86-64 (linux-64): works" in apma and "win-64" not in apma  # the first release's table
    mpa = page.sections["mpa2065"]
    assert "Pkg.instantiate()" in mpa and "mpa2065/past/feed00feed00/julia/Manifest.toml" in mpa
    assert "Production" not in mpa  # never promoted
    assert "/latest/" not in (store.root / key).read_text()  # students are linked to immutable sets only
    assert "Pkg.instantiate()" not in page.sections["biol1435"]
    assert "pip install" not in page.sections["biol1435"]
    # class.yaml pins another semester: say so instead of silently showing "not released".
    assert "summer-2025" in page.sections["ccv_bootcamp"]


def test_entries_come_from_the_latest_manifest(published: tuple[LocalStore, str]) -> None:
    store, _ = published
    entries = {e.class_key: e for e in collect_index_entries(store, SEMESTER, load_catalog(REPO / "requirements"), REGISTRY,
                                                              "production")}
    apma = entries["apma0365"]
    assert apma.image_tags == [f"{REGISTRY}/apma0365:latest", f"{REGISTRY}/apma0365:{SEMESTER}", f"{REGISTRY}/apma0365:c0ffee1234ab"]
    assert apma.pointers["latest"].set_id == "c0ffee1234ab" and apma.pointers["production"].set_id == "old0000000000"
    assert "apma0365/past/c0ffee1234ab/conda/requirements.pip.lock" in apma.pointers["latest"].env_files
    assert apma.env_files == apma.pointers["production"].env_files  # what the hub runs (JH_HUB_TAG)
    assert indexed_sets(store, SEMESTER)["apma0365"] == {"latest": "c0ffee1234ab", "production": "old0000000000"}
    latest_hub = {e.class_key: e for e in collect_index_entries(store, SEMESTER, load_catalog(REPO / "requirements"),
                                                               REGISTRY, hub="latest")}
    assert "apma0365/past/c0ffee1234ab/conda/requirements.pip.lock" in latest_hub["apma0365"].env_files
    assert apma.solvable == {"linux-64": True}  # from the production set's manifest
    assert not entries["eeps1430"].released and not entries["eeps1430"].image_tags


def test_render_escapes_and_needs_no_external_assets() -> None:
    html = render_semester_index(SEMESTER, [
        IndexEntry("evil", display_name="<script>alert(1)</script>", target="base", python_version="3.11",
                   image_tags=["r/evil:latest"], env_files=["evil/past/s1/conda/environment.yml"],
                   pointers={"latest": PointerView("latest", "s1", ["evil/past/s1/conda/environment.yml"])}),
    ])
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html  # air-gapped: nothing to fetch
    assert 'href="evil/past/s1/conda/environment.yml"' in html


def test_solvable_is_kept_in_the_set_manifest(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.publish_set(SEMESTER, "x", "s1", {"conda/environment.yml": b"name: x\n"}, solvable={"win-64": False})
    manifest = store.read_set_manifest(SEMESTER, "x", "s1")
    assert manifest is not None and manifest.solvable == {"win-64": False}
    store.publish_set(SEMESTER, "x", "s2", {"julia/Project.toml": b""})
    assert b"solvable" not in store.read_bytes(f"{SEMESTER}/x/past/s2/MANIFEST.json")  # no conda env: no claim


# --- the page in a real browser --------------------------------------------------------------------------


def chromium() -> str:
    found = shutil.which(os.environ.get("CHROMIUM", "chromium"))
    if not found:
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (scripts/setup.sh installs it)")
    return found


def run_chromium(args: list[str], profile: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once; on timeout kill its process group (we started it) by PID."""
    cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"chromium timed out after {timeout}s: {err[-2000:]}")
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {err[-2000:]}"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_every_link_resolves_in_chromium(published: tuple[LocalStore, str], tmp_path: Path) -> None:
    store, key = published
    page_path = store.root / key
    page_url = page_path.as_uri()

    dom = run_chromium(["--dump-dom", page_url], tmp_path / "profile-dom").stdout
    page = parse(dom)
    assert set(page.sections) == set(SEEDED), "Chromium's DOM lacks class sections"

    targets: set[Path] = set()
    for href in page.hrefs:
        url = urlsplit(urljoin(page_url, href))
        assert url.scheme == "file", f"{href}: not a relative link"
        target = Path(unquote(url.path))
        assert target.is_file(), f"{href}: {target} does not exist"
        assert target.resolve().is_relative_to(store.root.resolve()), f"{href}: leaves the store"
        if url.fragment:  # in-page links must land on an element of the page
            assert f'id="{url.fragment}"' in dom, f"{href}: no such anchor"
        targets.add(target)

    # Every file of every pointer's set is linked, in its immutable past/ folder.
    released = {store.root / k.replace("/latest/", f"/past/{store.read_latest_manifest(SEMESTER, k.split('/')[1]).set_id}/")
                for k in store.list(SEMESTER) if "/latest/" in k and not k.endswith("MANIFEST.json")}
    assert released and released <= targets

    shot = tmp_path / "index.png"
    run_chromium(["--window-size=1200,1600", f"--screenshot={shot}", page_url], tmp_path / "profile-shot")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1200, 1600)
