"""Content addresses: what decides whether an env or an image must be made again.

Pure functions of file contents and parsed inputs; the same values serve as Dagster
data/code versions, as the env set id in the store and as the image's content tag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from jh_pipeline.catalog import ClassInputs, CommonLists
from jh_pipeline.images.context import BUILD_SCRIPTS
from jh_pipeline.settings import ServerStack

# Bump when the env files' format or the resolution logic changes: every class re-solves.
ENV_FORMAT = "2"
# What the image build context holds besides the class's lock files (see images/context.py).
# docker/foundation is not in the build context: a changed stand-in changes the base image id instead.
IMAGE_RECIPE_PATHS = ("Dockerfile",)  # in the repository; the build scripts are package data


def digest(*parts: str | bytes, length: int = 16) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))  # length-prefixed: ("ab","c") != ("a","bc")
        h.update(data)
    return h.hexdigest()[:length]


def files_hash(paths: Iterable[Path], root: Path) -> str:
    """Hash of the files under `paths` (files or folders), by path relative to `root` and content."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        elif path.is_file():
            files.append(path)
    parts: list[str | bytes] = []
    for file in sorted(set(files)):
        parts += [file.relative_to(root).as_posix(), file.read_bytes()]
    return digest(*parts)


def folder_hash(folder: Path) -> str:
    return files_hash([folder], folder)


def env_inputs(inputs: ClassInputs) -> dict[str, object]:
    """The normalised inputs of a class's environment: comment or spacing edits do not change them."""
    return {
        "format": ENV_FORMAT,
        "python": inputs.config.python_version,
        "channels": list(inputs.channels),  # after mirror mapping: another source may give other builds
        "conda": sorted(s.spec for s in inputs.conda),
        "pip": sorted(r.line for r in inputs.pip),
        "julia": sorted(p.name for p in inputs.spec.julia) if inputs.config.target.uses_julia else [],
    }


def env_key(inputs: ClassInputs) -> str:
    return digest(json.dumps(env_inputs(inputs), sort_keys=True))


def server_env_key(common: CommonLists, stack: ServerStack, channels: Iterable[str]) -> str:
    """The server env's inputs: the stack settings and the common lists (as the class key, normalised)."""
    inputs = {
        "format": ENV_FORMAT,
        "python": stack.python_version,
        "channels": list(channels),
        "stack": stack.conda_specs(),
        "conda": sorted(s.spec for s in common.conda),
        "pip": sorted(r.line for r in common.pip),
    }
    return digest(json.dumps(inputs, sort_keys=True))


def recipe_hash(repo_root: Path) -> str:
    """Dockerfile + the scripts copied into every build."""
    return digest(files_hash([repo_root / p for p in IMAGE_RECIPE_PATHS], repo_root),
                  files_hash([BUILD_SCRIPTS], BUILD_SCRIPTS))


def image_tag(recipe: str, env_files: Mapping[str, bytes], build_args: Mapping[str, str]) -> str:
    """The content tag: recipe + the class's locked env files + build args."""
    parts: list[str | bytes] = [recipe]
    for name in sorted(env_files):
        parts += [name, env_files[name]]
    parts.append(json.dumps(dict(build_args), sort_keys=True))
    return "c-" + digest(*parts)
