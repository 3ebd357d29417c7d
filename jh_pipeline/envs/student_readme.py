"""README.md for a published env folder: how students recreate the course environment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "README.md.j2"

CONDA_FILES = frozenset({"conda-linux-64.lock", "environment.yml", "environment.nb.yml"})
JULIA_FILES = frozenset({"Project.toml", "Manifest.toml"})

TARGET_DESCRIPTIONS: Mapping[str, str] = {
    "base": "Python only",
    "r_lang": "Python and R",
    "r_julia": "Python, R and Julia",
}

PLATFORM_NAMES: Mapping[str, str] = {
    "linux-64": "Linux x86-64",
    "linux-aarch64": "Linux ARM",
    "osx-64": "macOS Intel",
    "osx-arm64": "macOS Apple silicon",
    "win-64": "Windows",
}


def _environment() -> jinja2.Environment:
    # A file loader, not PackageLoader: jh_pipeline.envs may be a namespace package.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )


def render_student_readme(
    *,
    class_name: str,
    semester: str,
    python_version: str,
    target: str,
    files: Iterable[str],
    solvable: Mapping[str, bool],
    env_name: str | None = None,
    julia_version: str | None = None,
    pip_lock_hashed: bool = False,
    role: str = "class",
) -> str:
    """Render the README for a folder holding `files` (names only; unknown names are ignored).

    `solvable` maps conda platforms (e.g. "osx-arm64") to whether the environment solves there.
    `pip_lock_hashed` adds the hint for pip hash mismatches on other platforms.
    `role` is "class" (the class's kernel env, folder conda/) or "server" (JupyterLab and the
    plugins, folder server/): the README says which to use for what.
    """
    if role not in ("class", "server"):
        raise ValueError(f"unknown role {role!r}")
    if target not in TARGET_DESCRIPTIONS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGET_DESCRIPTIONS)}")
    present = frozenset(files)
    text = (
        _environment()
        .get_template(TEMPLATE_NAME)
        .render(
            class_name=class_name,
            semester=semester,
            python_version=python_version,
            target_description=TARGET_DESCRIPTIONS[target],
            files=present,
            conda_files=bool(present & CONDA_FILES),
            julia_files=bool(present & JULIA_FILES),
            solvable=dict(solvable),
            platform_names=PLATFORM_NAMES,
            env_name=env_name or class_name,
            julia_version=julia_version,
            pip_lock_has_hashes=pip_lock_hashed,
            role=role,
        )
    )
    # Template blocks leave runs of blank lines; Markdown needs at most one.
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


RELEASE_NOTE_MARK = "<!-- jh-pipeline release -->"


def stamp_release(readme: str, *, class_name: str, semester: str, set_id: str, folder: str) -> str:
    """The README as released: a first paragraph naming the release and the permanent folder of
    its files (``<semester>/<class>/past/<set>/<folder>/``). Copies under ``latest/`` and
    ``production/`` change with the next release; that folder never does. Stamping twice is a no-op."""
    if readme.startswith(RELEASE_NOTE_MARK):
        readme = readme.split("\n\n", 1)[1] if "\n\n" in readme else ""
    note = (
        f"{RELEASE_NOTE_MARK}\n"
        f"> Release `{set_id}` of {class_name} ({semester}). The permanent copy of these files is the folder\n"
        f"> `{semester}/{class_name}/past/{set_id}/{folder}/` of the course files (the course index links there);\n"
        "> copies under `latest/` and `production/` are replaced by later releases.\n"
    )
    return f"{note}\n{readme}"
