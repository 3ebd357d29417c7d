"""Reading the files of `requirements/` safely: inside the tree only, text only, bounded size.

A problem with one file becomes a finding on that file; reading never raises and never puts a
file's bytes (or a link's target) into a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from jh_pipeline.catalog.findings import Finding, error

# Package lists are a few KiB; anything this big is a mistake and is not loaded into memory.
MAX_FILE_BYTES = 1024 * 1024


def leaves_tree(path: Path, root: Path) -> bool:
    """Whether `path` (through any symlink on the way) resolves outside `root` (a resolved path)."""
    try:
        return not path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a symlink loop
        return True


@dataclass
class TreeReader:
    """Reads files below `root`; `findings` collects why a present file could not be read."""

    root: Path  # resolved
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def for_root(cls, root: Path) -> TreeReader:
        return cls(Path(root).resolve())

    @staticmethod
    def exists(path: Path) -> bool:
        return os.path.lexists(path)

    def read(self, path: Path) -> str | None:
        """The text of `path`; None when it is absent or unreadable (then a finding says why)."""
        if not self.exists(path):
            return None
        if leaves_tree(path, self.root):
            # Never read or name the target: it may be /proc/self/environ or a secret.
            self.findings.append(
                error(path, 1, "symlink-outside",
                      f"'{path.name}' is a symbolic link leading outside the requirements tree; it was not read "
                      "(commit the file itself)")
            )
            return None
        if not path.is_file():
            self.findings.append(error(path, 1, "not-a-file", f"'{path.name}' is not a regular file; it was not read"))
            return None
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                self.findings.append(
                    error(path, 1, "file-too-large", f"larger than {MAX_FILE_BYTES // 1024} KiB; it was not read")
                )
                return None
            data = path.read_bytes()
        except OSError as exc:
            self.findings.append(error(path, 1, "unreadable", f"cannot read the file: {exc.strerror or type(exc).__name__}"))
            return None
        try:
            # utf-8-sig: files saved by some Windows editors start with a BOM.
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.findings.append(error(path, 1, "not-utf8", "not UTF-8 text"))
            return None

    def take(self) -> list[Finding]:
        found, self.findings = self.findings, []
        return found
