"""Local-directory artifact store: the default, needs nothing but a writable directory."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from jh_pipeline.store.base import (
    INTERNAL_PREFIX,
    MANIFEST_NAME,
    ArtifactNotFoundError,
    ArtifactStore,
    SetManifest,
    class_prefix,
    manifest_to_bytes,
    normalize_prefix,
    validate_key,
    validate_pointer,
)


def default_local_root(environ: Mapping[str, str] = os.environ) -> Path:
    """``$DAGSTER_HOME/jh_artifacts`` when DAGSTER_HOME is set, else ``./.jh_artifacts``."""
    home = environ.get("DAGSTER_HOME")
    return Path(home) / "jh_artifacts" if home else Path(".jh_artifacts")


def _write_atomic(path: Path, data: bytes) -> None:
    # Write beside the target and rename over it: readers never see a truncated file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{INTERNAL_PREFIX}tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalStore(ArtifactStore):
    """Keys map to files under ``root``. A pointer (``latest``, ``production``) is a symlink to a
    hidden staging directory (``.jh-<pointer>-*``, never listed as keys), replaced atomically: every
    path lookup under ``latest/`` sees a complete set. A reader reading several files across a
    switch should use ``read_pointer_set`` (or resolve the link once), as on GCS.

    Every change to the tree goes through ``_write_file``, ``_replace`` and ``_remove`` (fault
    injection in the tests counts them)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root if root is not None else default_local_root()).absolute()

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ArtifactNotFoundError(f"{self.uri(key)} not found") from exc

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write_file(self._path(key), data)  # content_type has no meaning on a filesystem

    def _write_file(self, path: Path, data: bytes) -> None:
        _write_atomic(path, data)

    def _replace(self, source: Path, target: Path) -> None:
        os.replace(source, target)

    def _remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        path = self._path(key)
        self._remove(path)
        # Prune empty parents so directory listings mirror what an object store shows.
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def list(self, prefix: str = "") -> list[str]:
        base = self.root / normalize_prefix(prefix)
        if not base.is_dir():
            return []
        keys: list[str] = []
        # followlinks: ``latest`` is a symlink and its files are keys like any other.
        for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
            dirnames[:] = [d for d in dirnames if not d.startswith(INTERNAL_PREFIX)]
            rel = Path(dirpath).relative_to(self.root)
            names = (n for n in filenames if not n.startswith(INTERNAL_PREFIX))
            keys.extend((rel / name).as_posix() for name in names)
        return sorted(keys)

    def uri(self, key: str) -> str:
        return (self.root / normalize_prefix(key)).as_uri()

    def switch_pointer(self, semester: str, class_name: str, pointer: str, set_id: str) -> SetManifest:
        """Build the new ``<pointer>`` in a hidden staging directory, then atomically replace the
        ``<pointer>`` symlink (rename(2) over it). A crash before the swap leaves the pointer
        untouched and at most a hidden, unlisted staging directory behind (removed by the next
        switch)."""
        validate_pointer(pointer)
        manifest = self._pointer_manifest(semester, class_name, set_id)
        files = self._read_verified_files(manifest)
        class_dir = self.root / class_prefix(semester, class_name)
        token = secrets.token_hex(6)
        stage = class_dir / f"{INTERNAL_PREFIX}{pointer}-{token}"
        for path, data in files.items():
            self._write_file(stage / path, data)
        self._write_file(stage / MANIFEST_NAME, manifest_to_bytes(manifest))

        current = class_dir / pointer
        link = class_dir / f"{INTERNAL_PREFIX}link-{pointer}-{token}"
        os.symlink(stage.name, link)  # relative target: the tree can be moved or mounted elsewhere
        if current.exists() and not current.is_symlink():
            # A plain directory (hand-made or legacy) cannot be swapped atomically: move it aside.
            self._replace(current, class_dir / f"{INTERNAL_PREFIX}old-{pointer}-{token}")
        self._replace(link, current)
        # Whatever an interrupted switch left: staging directories the pointer no longer names.
        for leftover in class_dir.glob(f"{INTERNAL_PREFIX}*"):
            if leftover.name != stage.name and _leftover_of(leftover.name, pointer):
                if leftover.is_symlink() or leftover.is_file():
                    leftover.unlink(missing_ok=True)
                else:
                    shutil.rmtree(leftover, ignore_errors=True)
        return manifest


def _leftover_of(name: str, pointer: str) -> bool:
    rest = name.removeprefix(INTERNAL_PREFIX)
    return rest.startswith((f"{pointer}-", f"link-{pointer}-", f"old-{pointer}-"))
