"""What a release records for later readers (history, promote, the index), and how it is stored.

Release writes one record per released set at ``<semester>/<class>/releases/<set_id>.json``: the
date, the image's digest and size, the registry tags and the package versions of the set. History
and promotion read these records instead of deriving them again from the registry or the files.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from jh_pipeline.store.base import (
    RELEASES,
    ArtifactNotFoundError,
    ArtifactStore,
    class_prefix,
    release_record_key,
)

_JSON = "application/json"
_PIP_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")


class ReleaseRecord(BaseModel):
    """One released set: the image it belongs to and what it holds."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    format: Literal[1] = 1
    semester: str
    class_name: str
    set_id: str  # also the image's content tag
    repository: str  # <registry>/<class>
    digest: str  # manifest digest the registry reported for <repository>:<set_id>
    size_bytes: int  # the image's size in the engine (uncompressed)
    released_at: datetime  # first release of this digest
    git_sha: str | None = None
    tags: list[str] = []  # registry tags the release moved
    packages: dict[str, str] = {}  # "conda:numpy" -> "2.1.3", "pip:tabulate" -> "0.9.0", "julia:IJulia" -> ...

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.set_id}"

    @property
    def pinned(self) -> str:
        """The image by digest: what a hub should run."""
        return f"{self.repository}@{self.digest}"


def record_to_bytes(record: ReleaseRecord) -> bytes:
    return (json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def read_record(store: ArtifactStore, semester: str, class_name: str, set_id: str) -> ReleaseRecord | None:
    try:
        return ReleaseRecord.model_validate_json(store.read_bytes(release_record_key(semester, class_name, set_id)))
    except ArtifactNotFoundError:
        return None


def write_record(store: ArtifactStore, record: ReleaseRecord) -> str:
    key = release_record_key(record.semester, record.class_name, record.set_id)
    store.write_bytes(key, record_to_bytes(record), _JSON)
    return key


def read_records(store: ArtifactStore, semester: str, class_name: str) -> list[ReleaseRecord]:
    """Every release record of the class in the semester, oldest first."""
    prefix = f"{class_prefix(semester, class_name)}/{RELEASES}"
    records = [
        ReleaseRecord.model_validate_json(store.read_bytes(key)) for key in store.list(prefix) if key.endswith(".json")
    ]
    return sorted(records, key=lambda r: (r.released_at, r.set_id))


# --- package versions of a set (pure) ----------------------------------------------------------------


def package_versions(files: Mapping[str, bytes]) -> dict[str, str]:
    """Versions of the class env's packages in a released set: conda and pip from
    ``conda/environment.yml`` (and ``conda/requirements.pip.lock``), Julia from ``julia/Manifest.toml``."""
    found: dict[str, str] = {}
    env = files.get("conda/environment.yml")
    if env is not None:
        document = yaml.safe_load(env.decode(errors="replace")) or {}
        for dep in document.get("dependencies") or []:
            if isinstance(dep, str):
                name, _, rest = dep.partition("=")
                found[f"conda:{name.strip()}"] = rest.split("=", 1)[0].strip()
            elif isinstance(dep, dict):
                for line in dep.get("pip") or []:
                    if m := _PIP_PIN.match(str(line)):
                        found[f"pip:{_pip_name(m[1])}"] = m[2]
    pip = files.get("conda/requirements.pip.lock")
    if pip is not None:
        for line in pip.decode(errors="replace").splitlines():
            if m := _PIP_PIN.match(line):
                found[f"pip:{_pip_name(m[1])}"] = m[2]
    manifest = files.get("julia/Manifest.toml")
    if manifest is not None:
        try:
            deps = tomllib.loads(manifest.decode(errors="replace")).get("deps") or {}
        except tomllib.TOMLDecodeError:
            deps = {}
        for name, entries in deps.items():
            version = entries[0].get("version") if isinstance(entries, list) and entries else None
            found[f"julia:{name}"] = str(version or "stdlib")
    return dict(sorted(found.items()))


def _pip_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503
