"""The student index: ``<semester>/index.html`` listing every class, its images and env files.

Links are relative to the page, so the same file works from a local store folder (``file://``), from
a GCS bucket served as a website, or from a copy on a USB stick. No external assets (air-gapped sites).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import jinja2

from jh_pipeline.catalog import Catalog, ClassSpec
from jh_pipeline.envs.student_readme import PLATFORM_NAMES, TARGET_DESCRIPTIONS
from jh_pipeline.images.resource import image_repository
from jh_pipeline.store.base import LATEST, ArtifactNotFoundError, ArtifactStore, latest_prefix, validate_name

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "index.html.j2"
INDEX_NAME = "index.html"
HTML = "text/html; charset=utf-8"

# What each published file is for, shown next to its link (unknown files get no note).
FILE_NOTES: Mapping[str, str] = {
    "conda-linux-64.lock": "exact conda packages of the image (Linux x86-64)",
    "environment.yml": "conda environment, same versions and builds (Linux)",
    "environment.nb.yml": "conda environment without builds (macOS, Windows)",
    "requirements.pip.lock": "pinned pip packages",
    "README.md": "step-by-step instructions",
    "packages.txt": "package list with download URLs",
    "conda-lock.yml": "lock file for conda-lock/pixi/rattler tools",
    "Project.toml": "Julia project",
    "Manifest.toml": "exact Julia package versions",
}

# A row of the platform table that envs/templates/README.md.j2 writes: "| name (`osx-arm64`) | yes |".
_SOLVABLE_ROW = re.compile(r"^\|[^|]*\(`([A-Za-z0-9_-]+)`\)\s*\|\s*(yes|no)\b", re.MULTILINE)


@dataclass(frozen=True)
class IndexEntry:
    """One class on the index. ``env_files`` are paths relative to the semester root
    (``apma0365/latest/conda/environment.yml``); empty means "not released yet"."""

    class_key: str
    display_name: str | None = None
    target: str | None = None  # None: class.yaml missing or invalid
    python_version: str | None = None
    image_tags: Sequence[str] = ()  # full refs: registry/class:latest, :<semester>, :<content tag>
    env_files: Sequence[str] = ()
    solvable: Mapping[str, bool] = field(default_factory=dict)  # conda platform -> solvable; {} = unknown
    note: str | None = None

    @property
    def released(self) -> bool:
        return bool(self.env_files)


def solvable_from_readme(text: str) -> dict[str, bool]:
    """Per-platform solvability as recorded in a published conda/README.md ({} when absent)."""
    return {platform: answer == "yes" for platform, answer in _SOLVABLE_ROW.findall(text)}


def _href(path: str) -> str:
    return "/".join(quote(part) for part in path.split("/"))


def _environment() -> jinja2.Environment:
    # A file loader, not PackageLoader, as in envs/student_readme.py.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        autoescape=True,  # class names and display names come from user-edited YAML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class _FileLink:
    path: str  # relative to the semester root

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def href(self) -> str:
        return _href(self.path)

    @property
    def note(self) -> str:
        return FILE_NOTES.get(self.name, "")


@dataclass(frozen=True)
class _ClassView:
    """What the template needs for one class: files by name, so the recipe can ask "is X here?"."""

    entry: IndexEntry
    files: list[_FileLink]

    @property
    def anchor(self) -> str:
        return f"class-{self.entry.class_key}"

    @property
    def target_description(self) -> str:
        return TARGET_DESCRIPTIONS.get(self.entry.target or "", "")

    def file(self, name: str) -> _FileLink | None:
        """The first published file called ``name`` (conda/ sorts before julia/)."""
        return next((f for f in self.files if f.name == name), None)

    def has(self, name: str) -> bool:
        return self.file(name) is not None

    def folder_of(self, *names: str) -> str | None:
        """The folder (relative to the page) holding the first of ``names`` present."""
        found = next((f for name in names if (f := self.file(name)) is not None), None)
        return found.folder if found else None


def render_semester_index(semester: str, entries: Sequence[IndexEntry]) -> str:
    """The HTML page for ``semester`` (pure)."""
    return _environment().get_template(TEMPLATE_NAME).render(
        semester=semester,
        classes=[_ClassView(e, [_FileLink(p) for p in e.env_files]) for e in sorted(entries, key=lambda e: e.class_key)],
        platform_names=PLATFORM_NAMES,
    )


def _entry(store: ArtifactStore, semester: str, spec: ClassSpec, registry: str) -> IndexEntry:
    config = spec.config
    note = None
    if config is None:
        note = "class.yaml is missing or invalid: run `jh-pipeline validate`"
    elif config.semester and config.semester != semester:
        note = f"class.yaml sets semester {config.semester}: its files are published under that semester"
    base = IndexEntry(
        class_key=spec.key,
        display_name=config.display_name if config else None,
        target=config.target.value if config else None,
        python_version=config.python_version if config else None,
        note=note,
    )
    manifest = store.read_latest_manifest(semester, spec.key)
    if manifest is None:
        return base
    repository = image_repository(registry, spec.key)
    # The release step names the released set after the image's content tag (image_steps.py).
    tags = [f"{repository}:{tag}" for tag in (LATEST, semester, manifest.set_id)]
    readme = f"{latest_prefix(semester, spec.key)}/conda/README.md"
    solvable: dict[str, bool] = {}
    if "conda/README.md" in manifest.files:
        try:
            solvable = solvable_from_readme(store.read_bytes(readme).decode(errors="replace"))
        except ArtifactNotFoundError:  # a switch in progress; the index is rebuilt on every release
            pass
    return IndexEntry(
        class_key=base.class_key,
        display_name=base.display_name,
        target=base.target,
        python_version=base.python_version,
        image_tags=tags,
        env_files=[f"{spec.key}/{LATEST}/{path}" for path in sorted(manifest.files)],
        solvable=solvable,
        note=base.note,
    )


def collect_index_entries(store: ArtifactStore, semester: str, catalog: Catalog, registry: str) -> list[IndexEntry]:
    """One entry per class of the catalog, from its released (``latest``) set in ``semester``."""
    validate_name("semester", semester)
    return [_entry(store, semester, catalog.classes[key], registry) for key in sorted(catalog.classes)]


def publish_semester_index(store: ArtifactStore, semester: str, catalog: Catalog, registry: str) -> str:
    """Write ``<semester>/index.html`` and return its key."""
    html = render_semester_index(semester, collect_index_entries(store, semester, catalog, registry))
    key = f"{validate_name('semester', semester)}/{INDEX_NAME}"
    store.write_bytes(key, html.encode(), HTML)
    return key
