"""`jh-pipeline new-class`: a new class folder from templates, plus its CI workflow."""

from __future__ import annotations

from pathlib import Path

import jinja2
from pydantic import ValidationError

from jh_pipeline.catalog.config import ClassConfig, Target
from jh_pipeline.catalog.model import CLASS_YAML, CONDA_FILE, JULIA_FILE, PIP_FILE, R_FILE, RESERVED_CLASS_NAMES
from jh_pipeline.catalog.names import class_key, is_class_key
from jh_pipeline.catalog.python_versions import is_supported, supported_range
from jh_pipeline.scaffold.workflows import WorkflowSettings, check_writable, render_workflow, workflow_path

_TEMPLATES = Path(__file__).parent / "templates"


class ClassExistsError(Exception):
    """The class (or a folder with the same normalised key) already exists."""


def class_files(target: Target) -> list[str]:
    """The files a new class of `target` gets, in creation order."""
    files = [CLASS_YAML, CONDA_FILE, PIP_FILE]
    if target.uses_julia:
        files.append(JULIA_FILE)
    if target.uses_r:
        files.append(R_FILE)
    return files


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def _existing_folder(classes_dir: Path, key: str) -> Path | None:
    # `PHP1560/` and a new `php1560` would collide in the catalog, so both count as existing.
    if not classes_dir.is_dir():
        return None
    return next((p for p in sorted(classes_dir.iterdir()) if p.is_dir() and class_key(p.name) == key), None)


def create_class(
    repo_root: Path, name: str, target: Target, mysql: bool = False, python_version: str = "3.11"
) -> list[Path]:
    """Create `requirements/classes/NAME/` and `.github/workflows/NAME.yml`; return the created files.

    Refuses (and writes nothing) when NAME is not a valid class key or is reserved (`common`), the
    Python is one the server stack does not run, the class exists, or a hand-written workflow of
    that name is in the way.
    """
    repo_root = Path(repo_root)
    target = Target(target)
    if not is_class_key(name) or name == "_":
        raise ValueError(
            f"'{name}' is not a valid class name (lowercase letters, digits and '_' only); "
            f"use '{class_key(name)}'"
        )
    if name in RESERVED_CLASS_NAMES:
        raise ValueError(f"'{name}' is reserved for the shared lists (requirements/common); choose another class name")
    try:
        config = ClassConfig(target=target, python_version=python_version, mysql=mysql)
    except ValidationError as exc:
        raise ValueError(f"invalid class settings: {exc.errors()[0]['msg']} (python_version='{python_version}')") from exc
    if not is_supported(python_version):
        raise ValueError(f"python_version '{python_version}': class envs run on Python {supported_range()} only")

    classes_dir = repo_root / "requirements" / "classes"
    existing = _existing_folder(classes_dir, name)
    if existing is not None:
        raise ClassExistsError(f"class '{name}' already exists at {existing}; nothing was written")
    workflow = workflow_path(repo_root, name)
    check_writable(workflow)

    # Render everything before writing anything, so a template error leaves no half-made class.
    env = _environment()
    context = {"name": name, "target": target, "mysql": mysql, "python_version": python_version}
    folder = classes_dir / name
    rendered = {folder / f: env.get_template(f"{f}.j2").render(context) for f in class_files(target)}
    rendered[workflow] = render_workflow(name, config, WorkflowSettings.from_repo(repo_root))

    folder.mkdir(parents=True)  # fails if a racing process made it meanwhile
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    return list(rendered)
