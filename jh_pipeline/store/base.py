"""Artifact store interface, key layout and manifest logic shared by every backend.

Layout (compatible with the existing GCS deployment)::

    <semester>/<class>/past/<set_id>/{conda,julia}/...  one set per content hash or git sha
    <semester>/<class>/past/<set_id>/MANIFEST.json      written last: without it, the set is absent
    <semester>/<class>/latest/...                       mirror of the released set
    <semester>/<class>/latest/MANIFEST.json             names the released set id (and where its files are)
    <semester>/<class>/production/...                   the same, for the set hubs run in production
    <semester>/<class>/releases/<set_id>.json           what release recorded (date, digest, size, packages)
    <semester>/<class>/pointers/<pointer>.json          every move of a pointer (who, when, from, to)

``latest`` and ``production`` are pointers: mutable mirrors of an immutable ``past/`` set. A reader
that follows a pointer's manifest (its ``files_at`` names the ``past/`` set) never gets a mixed set.

Backends implement six primitives on flat string keys (``exists``, ``read_bytes``, ``write_bytes``,
``delete``, ``list``, ``uri``); the set operations below are written once on top of them.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

PAST = "past"
LATEST = "latest"
PRODUCTION = "production"
POINTERS: tuple[str, ...] = (LATEST, PRODUCTION)
RELEASES = "releases"
POINTER_LOGS = "pointers"
MANIFEST_NAME = "MANIFEST.json"
# class env, Julia, the server env, the hub settings pinned by digest
SET_SUBDIRS: tuple[str, ...] = ("conda", "julia", "server", "hub")
# Names starting with this are backend bookkeeping (temp files, staging dirs), never keys.
INTERNAL_PREFIX = ".jh-"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_JSON = "application/json"


class ArtifactNotFoundError(FileNotFoundError):
    """The key (or set) does not exist in the store."""


class InvalidKeyError(ValueError):
    """A key, path or name does not fit the store layout."""


class ArtifactIntegrityError(RuntimeError):
    """Stored bytes do not match the sha256 recorded in the set manifest."""


# --- keys and layout (pure) -------------------------------------------------------------------


def validate_key(key: str) -> str:
    """Return ``key`` if it is a clean relative POSIX path, else raise InvalidKeyError."""
    if not key or key.startswith("/") or key.endswith("/") or "\\" in key:
        raise InvalidKeyError(f"invalid store key {key!r}: must be a relative path like 'a/b/c'")
    for part in key.split("/"):
        if part in ("", ".", "..") or part.startswith(INTERNAL_PREFIX) or not part.isprintable():
            raise InvalidKeyError(f"invalid store key {key!r}: bad segment {part!r}")
    return key


def normalize_prefix(prefix: str) -> str:
    """A directory-like prefix without trailing slash ('' means the whole store)."""
    prefix = prefix.strip("/")
    return validate_key(prefix) if prefix else ""


def validate_name(kind: str, value: str) -> str:
    """Semester, class name and set id are single path segments."""
    if not _NAME_RE.fullmatch(value):
        raise InvalidKeyError(f"invalid {kind} {value!r}: use letters, digits, '.', '_', '+', '-'")
    return value


def class_prefix(semester: str, class_name: str) -> str:
    return f"{validate_name('semester', semester)}/{validate_name('class name', class_name)}"


def past_prefix(semester: str, class_name: str, set_id: str) -> str:
    return f"{class_prefix(semester, class_name)}/{PAST}/{validate_name('set id', set_id)}"


def latest_prefix(semester: str, class_name: str) -> str:
    return pointer_prefix(semester, class_name, LATEST)


def validate_pointer(pointer: str) -> str:
    if pointer not in POINTERS:
        raise InvalidKeyError(f"unknown pointer {pointer!r}: use one of {', '.join(POINTERS)}")
    return pointer


def pointer_prefix(semester: str, class_name: str, pointer: str) -> str:
    return f"{class_prefix(semester, class_name)}/{validate_pointer(pointer)}"


def release_record_key(semester: str, class_name: str, set_id: str) -> str:
    return f"{class_prefix(semester, class_name)}/{RELEASES}/{validate_name('set id', set_id)}.json"


def pointer_log_key(semester: str, class_name: str, pointer: str) -> str:
    return f"{class_prefix(semester, class_name)}/{POINTER_LOGS}/{validate_pointer(pointer)}.json"


def validate_set_path(path: str) -> str:
    """A file inside a set: ``conda/...`` or ``julia/...``."""
    validate_key(path)
    top, _, rest = path.partition("/")
    if top not in SET_SUBDIRS or not rest:
        raise InvalidKeyError(f"set file {path!r} must live under one of {', '.join(SET_SUBDIRS)}/")
    return path


def is_pointer_key(key: str) -> bool:
    """True for keys that change in place: under ``<semester>/<class>/{latest,production}/``, the
    pointer logs, and the semester's index (GCS serves them with ``no-cache``)."""
    parts = key.split("/")
    if len(parts) == 2 and parts[1].startswith("index."):
        return True
    return len(parts) >= 4 and parts[2] in (*POINTERS, POINTER_LOGS)


# The GCS backend asks this name; every pointer (not only latest) changes in place.
is_latest_key = is_pointer_key


def content_type_for(key: str) -> str:
    """Env files are all text: serve them as text so browsers show them (deterministic, unlike
    ``mimetypes``, which reads the host's /etc/mime.types)."""
    return _JSON if key.endswith(".json") else "text/plain; charset=utf-8"


# --- manifest (pure) ---------------------------------------------------------------------------


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sha256: str
    size: int


class SetManifest(BaseModel):
    """Written last into ``past/<id>/`` and ``latest/``; its presence makes a set complete."""

    model_config = ConfigDict(frozen=True)
    format: Literal[1] = 1
    semester: str
    class_name: str
    set_id: str
    files: dict[str, ManifestEntry]
    # Only in a pointer's manifest: the immutable past/ folder holding exactly these files. A reader
    # that fetches the files from there, not from the pointer folder, never sees two sets mixed.
    files_at: str | None = None
    # Per conda platform: does the set's env solve there (as the solve found; the student README and
    # the index say so). None for sets without a conda env.
    solvable: dict[str, bool] | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(
    semester: str, class_name: str, set_id: str, files: Mapping[str, bytes],
    solvable: Mapping[str, bool] | None = None,
) -> SetManifest:
    if not files:
        raise InvalidKeyError("a set needs at least one file")
    entries = {
        validate_set_path(path): ManifestEntry(sha256=sha256_hex(data), size=len(data))
        for path, data in sorted(files.items())
    }
    past_prefix(semester, class_name, set_id)  # validates the names
    return SetManifest(semester=semester, class_name=class_name, set_id=set_id, files=entries,
                       solvable=dict(solvable) if solvable is not None else None)


def manifest_to_bytes(manifest: SetManifest) -> bytes:
    # Deterministic bytes: re-publishing an identical set rewrites an identical manifest.
    # exclude_none: a set's manifest has no files_at, and its bytes stay what they always were.
    return (json.dumps(manifest.model_dump(mode="json", exclude_none=True), indent=2, sort_keys=True) + "\n").encode()


def manifest_from_bytes(data: bytes) -> SetManifest:
    return SetManifest.model_validate_json(data)


def verify(entry: ManifestEntry, data: bytes, key: str) -> bytes:
    if len(data) != entry.size or sha256_hex(data) != entry.sha256:
        raise ArtifactIntegrityError(f"{key}: content does not match its manifest entry")
    return data


# --- interface -----------------------------------------------------------------------------------


class ArtifactStore(ABC):
    """Flat key/value primitives (per backend) plus the set operations (shared)."""

    # Primitives. Keys are validated relative POSIX paths (see validate_key).

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """Raise ArtifactNotFoundError when the key is missing."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Create or replace one object; readers see the old or the new bytes, never a mix."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; missing keys are ignored."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys under the directory-like ``prefix`` ('' lists everything)."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """A URI for humans and metadata (``file://...`` or ``gs://...``)."""

    # Set operations, identical for every backend.

    def has_set(self, semester: str, class_name: str, set_id: str) -> bool:
        """True only when the set's manifest exists: a half-written set is absent."""
        return self.exists(f"{past_prefix(semester, class_name, set_id)}/{MANIFEST_NAME}")

    def read_set_manifest(self, semester: str, class_name: str, set_id: str) -> SetManifest | None:
        return self._read_manifest(f"{past_prefix(semester, class_name, set_id)}/{MANIFEST_NAME}")

    def read_latest_manifest(self, semester: str, class_name: str) -> SetManifest | None:
        """The released set's manifest (it names ``set_id``); None if nothing was released."""
        return self.read_pointer_manifest(semester, class_name, LATEST)

    def read_pointer_manifest(self, semester: str, class_name: str, pointer: str) -> SetManifest | None:
        return self._read_manifest(f"{pointer_prefix(semester, class_name, pointer)}/{MANIFEST_NAME}")

    def read_set_files(self, semester: str, class_name: str, set_id: str) -> dict[str, bytes]:
        """All files of a complete set, checked against its manifest."""
        manifest = self._require_set(semester, class_name, set_id)
        return self._read_verified_files(manifest)

    def read_latest_set(
        self, semester: str, class_name: str
    ) -> tuple[SetManifest, dict[str, bytes]] | None:
        """The released set, read consistently (see ``read_pointer_set``)."""
        return self.read_pointer_set(semester, class_name, LATEST)

    def read_pointer_set(
        self, semester: str, class_name: str, pointer: str
    ) -> tuple[SetManifest, dict[str, bytes]] | None:
        """The set a pointer names, read consistently: its manifest names the set id and the files
        come from the immutable ``past/<id>/`` copy, so a concurrent switch cannot mix two sets."""
        manifest = self.read_pointer_manifest(semester, class_name, pointer)
        if manifest is None:
            return None
        return manifest, self._read_verified_files(manifest)

    def pointer_is_current(self, semester: str, class_name: str, pointer: str, set_id: str) -> bool:
        """True when the pointer's manifest names ``set_id`` and its folder holds exactly that set's
        files and nothing else: a switch that stopped after its manifest (before cleaning up) is not.
        File contents are not read again (a no-op run stays a few lookups): the manifest is written
        after every file, and release moves the registry before the store, so a switch that died
        half-way leaves the manifest or the registry naming another set, which a rerun notices."""
        prefix = pointer_prefix(semester, class_name, pointer)
        manifest = self.read_pointer_manifest(semester, class_name, pointer)
        if manifest is None or manifest.set_id != set_id:
            return False
        return self.list(prefix) == sorted([f"{prefix}/{path}" for path in manifest.files] + [f"{prefix}/{MANIFEST_NAME}"])

    def publish_set(
        self, semester: str, class_name: str, set_id: str, files: Mapping[str, bytes],
        solvable: Mapping[str, bool] | None = None,
    ) -> builtins.list[str]:  # ``list`` is a method name in this class
        """Write ``past/<set_id>/<path>`` for every file, then the manifest; return the keys
        (manifest last). Re-publishing identical content is a no-op. Re-publishing different
        content under the same id first removes the manifest, so the set is absent while it is
        rewritten, and stale files from an earlier attempt are removed."""
        manifest = build_manifest(semester, class_name, set_id, files, solvable)
        prefix = past_prefix(semester, class_name, set_id)
        manifest_key = f"{prefix}/{MANIFEST_NAME}"
        keys = [f"{prefix}/{path}" for path in manifest.files] + [manifest_key]
        if self._read_manifest(manifest_key) == manifest:
            return keys
        self.delete(manifest_key)
        for path in manifest.files:
            self.write_bytes(f"{prefix}/{path}", files[path], content_type_for(path))
        self._delete_except(prefix, keep=set(keys))
        self.write_bytes(manifest_key, manifest_to_bytes(manifest), _JSON)
        return keys

    def switch_latest(self, semester: str, class_name: str, set_id: str) -> SetManifest:
        return self.switch_pointer(semester, class_name, LATEST, set_id)

    def switch_pointer(self, semester: str, class_name: str, pointer: str, set_id: str) -> SetManifest:
        """Make ``<pointer>/`` (``latest``, ``production``) mirror the complete set ``set_id``;
        return the pointer's manifest.

        Object stores have no atomic rename, so this (default) implementation does:
        1. copy every file of the set to ``<pointer>/`` (always: a crashed switch to another set may
           have overwritten files while the manifest still names this one),
        2. write ``<pointer>/MANIFEST.json`` last, naming the new set id and (``files_at``) its
           immutable ``past/<set_id>/`` folder,
        3. delete objects under ``<pointer>/`` that are not in the new set.
        Guarantee: the pointer's manifest always names a complete set; a reader that reads the
        manifest and then fetches files from ``files_at`` (see ``read_pointer_set``) never sees a
        partial or mixed set. A reader fetching ``<pointer>/<path>`` directly during a switch may
        get a file of the new set next to files of the old one (checkable against the manifest's
        sha256), or miss a file of the old set: that is why students are linked to ``past/``. A
        failed switch leaves the manifest naming the old set (files possibly mixed); the next
        switch repairs the folder, and ``pointer_is_current`` tells a rerun that it must switch.
        Backends with atomic renames override this.
        """
        manifest = self._pointer_manifest(semester, class_name, set_id)
        prefix = pointer_prefix(semester, class_name, pointer)
        manifest_key = f"{prefix}/{MANIFEST_NAME}"
        for path, data in self._read_verified_files(manifest).items():
            self.write_bytes(f"{prefix}/{path}", data, content_type_for(path))
        self.write_bytes(manifest_key, manifest_to_bytes(manifest), _JSON)
        keep = {f"{prefix}/{path}" for path in manifest.files} | {manifest_key}
        self._delete_except(prefix, keep)
        return manifest

    # Helpers.

    def _read_manifest(self, key: str) -> SetManifest | None:
        try:
            return manifest_from_bytes(self.read_bytes(key))
        except ArtifactNotFoundError:
            return None

    def _pointer_manifest(self, semester: str, class_name: str, set_id: str) -> SetManifest:
        """The manifest a pointer gets for a complete set: the set's, plus where its files are."""
        manifest = self._require_set(semester, class_name, set_id)
        return manifest.model_copy(update={"files_at": past_prefix(semester, class_name, set_id)})

    def _require_set(self, semester: str, class_name: str, set_id: str) -> SetManifest:
        manifest = self.read_set_manifest(semester, class_name, set_id)
        if manifest is None:
            prefix = past_prefix(semester, class_name, set_id)
            raise ArtifactNotFoundError(f"no complete set at {self.uri(prefix)} (manifest missing)")
        return manifest

    def _read_verified_files(self, manifest: SetManifest) -> dict[str, bytes]:
        prefix = past_prefix(manifest.semester, manifest.class_name, manifest.set_id)
        out: dict[str, bytes] = {}
        for path, entry in manifest.files.items():
            key = f"{prefix}/{path}"
            out[path] = verify(entry, self.read_bytes(key), key)
        return out

    def _delete_except(self, prefix: str, keep: set[str]) -> None:
        for key in self.list(prefix):
            if key not in keep:
                self.delete(key)
