"""The student index: ``<semester>/index.html`` listing every class, its images and env files.

Links are relative to the page, so the same file works from a local store folder (``file://``), from
a GCS bucket served as a website, or from a copy on a USB stick. No external assets (air-gapped sites).
Every file link points into an immutable ``past/<set>/`` folder (never into ``latest/`` or
``production/``, which change in place), so a student never downloads two sets mixed.
``<semester>/index.json``, written after the page, names the sets the page shows (release reads it
to know whether its last step was done).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import jinja2

from jh_pipeline.catalog import Catalog, ClassSpec
from jh_pipeline.envs.student_readme import PLATFORM_NAMES, TARGET_DESCRIPTIONS
from jh_pipeline.images.naming import image_repository
from jh_pipeline.release.pointers import read_log
from jh_pipeline.release.records import read_record
from jh_pipeline.store.base import (
    LATEST,
    POINTERS,
    PRODUCTION,
    ArtifactNotFoundError,
    ArtifactStore,
    SetManifest,
    past_prefix,
    validate_name,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "index.html.j2"
INDEX_NAME = "index.html"
INDEX_DATA = "index.json"
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
    "values.yaml": "Zero to JupyterHub settings, image pinned by digest",
    "jupyterhub_config.py": "DockerSpawner setting, image pinned by digest",
}

# A row of the platform table that envs/templates/README.md.j2 writes: "| name (`osx-arm64`) | yes |".


@dataclass(frozen=True)
class PointerView:
    """What a pointer (latest, production) of a class names, as the index shows it."""

    pointer: str
    set_id: str
    env_files: Sequence[str] = ()  # relative to the semester root: <class>/past/<set>/conda/...
    image: str | None = None  # <repository>@<digest>, from the release record
    date: datetime | None = None  # released (latest) or promoted (production)


@dataclass(frozen=True)
class IndexEntry:
    """One class on the index. ``env_files`` are paths relative to the semester root
    (``apma0365/past/<set>/conda/environment.yml``) of the set the hub runs; empty means
    "not released yet"."""

    class_key: str
    display_name: str | None = None
    target: str | None = None  # None: class.yaml missing or invalid
    python_version: str | None = None
    image_tags: Sequence[str] = ()  # full refs: registry/class:latest, :<semester>, :<content tag>
    env_files: Sequence[str] = ()
    solvable: Mapping[str, bool] = field(default_factory=dict)  # conda platform -> solvable; {} = unknown
    note: str | None = None
    pointers: Mapping[str, PointerView] = field(default_factory=dict)  # latest, production
    hub_pointer: str = LATEST  # which pointer's image hubs run (JH_HUB_TAG)

    @property
    def released(self) -> bool:
        return bool(self.env_files)


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
    def production(self) -> PointerView | None:
        return self.entry.pointers.get(PRODUCTION)

    @property
    def latest(self) -> PointerView | None:
        return self.entry.pointers.get(LATEST)

    def links(self, view: PointerView) -> list[_FileLink]:
        return [_FileLink(p) for p in view.env_files]

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


def _view(store: ArtifactStore, semester: str, class_key: str, pointer: str, manifest: SetManifest) -> PointerView:
    record = read_record(store, semester, class_key, manifest.set_id)
    date = record.released_at if record else None
    if pointer == PRODUCTION:
        moves = [m for m in read_log(store, semester, class_key, PRODUCTION) if m.set_id == manifest.set_id]
        date = moves[-1].at if moves else date
    folder = past_prefix(semester, class_key, manifest.set_id).split("/", 1)[1]  # relative to the semester
    return PointerView(pointer, manifest.set_id, [f"{folder}/{path}" for path in sorted(manifest.files)],
                       record.pinned if record else None, date)


def _entry(store: ArtifactStore, semester: str, spec: ClassSpec, registry: str, hub: str) -> IndexEntry:
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
    views = {
        pointer: _view(store, semester, spec.key, pointer, manifest)
        for pointer in POINTERS
        if (manifest := store.read_pointer_manifest(semester, spec.key, pointer)) is not None
    }
    latest = views.get(LATEST)
    if latest is None and not views:
        return base
    shown = views.get(hub) or latest or next(iter(views.values()))
    repository = image_repository(registry, spec.key)
    # The release step names the released set after the image's content tag (release_steps.py).
    tags = [f"{repository}:{tag}" for tag in (LATEST, semester, latest.set_id)] if latest else []
    shown_set = store.read_set_manifest(semester, spec.key, shown.set_id)
    solvable = dict(shown_set.solvable or {}) if shown_set is not None else {}
    return IndexEntry(
        class_key=base.class_key,
        display_name=base.display_name,
        target=base.target,
        python_version=base.python_version,
        image_tags=tags,
        env_files=list(shown.env_files),
        solvable=solvable,
        note=base.note,
        pointers=views,
        hub_pointer=hub,
    )


def collect_index_entries(
    store: ArtifactStore, semester: str, catalog: Catalog, registry: str, hub: str
) -> list[IndexEntry]:
    """One entry per class of the catalog, from its pointers (latest, production) in ``semester``;
    ``hub`` is the pointer hubs run (JH_HUB_TAG)."""
    validate_name("semester", semester)
    return [_entry(store, semester, catalog.classes[key], registry, hub) for key in sorted(catalog.classes)]


def index_data(semester: str, entries: Sequence[IndexEntry]) -> dict[str, object]:
    return {
        "format": 1,
        "semester": semester,
        "classes": {e.class_key: {p: v.set_id for p, v in sorted(e.pointers.items())} for e in entries},
    }


def indexed_sets(store: ArtifactStore, semester: str) -> dict[str, dict[str, str]]:
    """What the published index shows: class -> pointer -> set id ({} when there is no index)."""
    try:
        data = json.loads(store.read_bytes(f"{validate_name('semester', semester)}/{INDEX_DATA}"))
    except (ArtifactNotFoundError, ValueError):
        return {}
    classes = data.get("classes") if isinstance(data, dict) else None
    return classes if isinstance(classes, dict) else {}


def publish_semester_index(store: ArtifactStore, semester: str, catalog: Catalog, registry: str, hub: str) -> str:
    """Write ``<semester>/index.html``, then ``index.json``; return the page's key."""
    entries = collect_index_entries(store, semester, catalog, registry, hub)
    html = render_semester_index(semester, entries)
    key = f"{validate_name('semester', semester)}/{INDEX_NAME}"
    store.write_bytes(key, html.encode(), HTML)
    data = json.dumps(index_data(semester, entries), indent=2, sort_keys=True) + "\n"
    store.write_bytes(f"{semester}/{INDEX_DATA}", data.encode(), "application/json")
    return key
