"""`jh-pipeline history`: every released set of a class, what changed, which is latest and production (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jh_pipeline.release.records import ReleaseRecord


@dataclass(frozen=True)
class PackageChanges:
    added: dict[str, str] = field(default_factory=dict)  # name -> version
    removed: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (old, new)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        return ([f"+ {n} {v}" for n, v in self.added.items()]
                + [f"- {n} {v}" for n, v in self.removed.items()]
                + [f"~ {n} {old} -> {new}" for n, (old, new) in self.changed.items()])


def diff_packages(old: Mapping[str, str], new: Mapping[str, str]) -> PackageChanges:
    return PackageChanges(
        added={n: new[n] for n in sorted(new.keys() - old.keys())},
        removed={n: old[n] for n in sorted(old.keys() - new.keys())},
        changed={n: (old[n], new[n]) for n in sorted(old.keys() & new.keys()) if old[n] != new[n]},
    )


@dataclass(frozen=True)
class HistoryRow:
    record: ReleaseRecord
    changes: PackageChanges
    first: bool  # nothing to compare with
    pointers: tuple[str, ...]  # "latest", "production"


def history_rows(records: Sequence[ReleaseRecord], pointers: Mapping[str, str | None]) -> list[HistoryRow]:
    """Rows oldest first; ``pointers`` maps pointer name -> the set id it names (or None)."""
    rows: list[HistoryRow] = []
    previous: ReleaseRecord | None = None
    for record in sorted(records, key=lambda r: (r.released_at, r.set_id)):
        changes = diff_packages(previous.packages if previous else {}, record.packages)
        marks = tuple(name for name, set_id in sorted(pointers.items()) if set_id == record.set_id)
        rows.append(HistoryRow(record, changes, previous is None, marks))
        previous = record
    return rows


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def format_history(class_name: str, semester: str, rows: Sequence[HistoryRow]) -> str:
    """Newest first, one block per release."""
    if not rows:
        return f"{class_name} ({semester}): nothing released yet\n"
    out = [f"{class_name} ({semester}): {len(rows)} release(s), newest first"]
    for row in reversed(rows):
        r = row.record
        marks = f"  [{', '.join(row.pointers)}]" if row.pointers else ""
        out.append(f"{r.released_at:%Y-%m-%d %H:%M}Z  {r.set_id}  {r.digest}  {_size(r.size_bytes)}{marks}")
        if row.first:
            out.append(f"    first release: {len(r.packages)} packages")
        elif row.changes.empty:
            out.append("    no package changes")
        else:
            out += [f"    {line}" for line in row.changes.lines()]
    return "\n".join(out) + "\n"
