"""Pointers (``latest``, ``production``): where one goes, and the log of its moves (pure).

A pointer names one released set of a class; it exists twice, as a registry tag
(``<registry>/<class>:production``) and as a store folder (``<semester>/<class>/production/``),
moved by ``jh_pipeline.defs.release_steps``. Every completed move of ``production`` is appended to
``<semester>/<class>/pointers/production.json``; the log is written last, so a move that was
interrupted is not in it and a rerun computes the same target again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

from jh_pipeline.store.base import LATEST, PRODUCTION, ArtifactNotFoundError, ArtifactStore, pointer_log_key

Action = Literal["promote", "rollback"]
ACTIONS: tuple[str, ...] = ("promote", "rollback")


class PointerError(ValueError):
    """A move that cannot be made (unknown set, nothing to roll back to); the message says why."""


class PointerMove(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    action: Action
    set_id: str  # where the pointer went
    digest: str
    from_set: str | None = None
    from_digest: str | None = None
    by: str
    at: datetime


_LOG = TypeAdapter(list[PointerMove])


def actor(environ: Mapping[str, str] = os.environ) -> str:
    """Who moves a pointer: the GitHub user in a workflow, else the login name."""
    return environ.get("GITHUB_ACTOR") or environ.get("USER") or environ.get("LOGNAME") or "unknown"


def current(log: Sequence[PointerMove]) -> str | None:
    return log[-1].set_id if log else None


def stack(log: Sequence[PointerMove]) -> list[str]:
    """The sets the pointer went through, as a stack: a promotion pushes, a rollback pops back to
    its target (or pushes it, when the target was never production). So "rollback" twice after
    promoting A, B, C goes to B, then A, never back and forth."""
    out: list[str] = []
    for move in log:
        if move.action == "rollback" and move.set_id in out:
            del out[out.index(move.set_id) + 1:]
        elif not out or out[-1] != move.set_id:
            out.append(move.set_id)
    return out


def rollback_target(log: Sequence[PointerMove]) -> str:
    """The previous production: the set before the current one on the stack."""
    sets = stack(log)
    if len(sets) < 2:
        raise PointerError("nothing to roll back to: production has had only "
                           + (f"one set ({sets[0]})" if sets else "no set") + "; name one with --to")
    return sets[-2]


def read_log(store: ArtifactStore, semester: str, class_name: str, pointer: str = PRODUCTION) -> list[PointerMove]:
    try:
        return list(_LOG.validate_json(store.read_bytes(pointer_log_key(semester, class_name, pointer))))
    except ArtifactNotFoundError:
        return []


def log_to_bytes(log: Sequence[PointerMove]) -> bytes:
    return (json.dumps([m.model_dump(mode="json") for m in log], indent=2, sort_keys=True) + "\n").encode()


def append_move(store: ArtifactStore, semester: str, class_name: str, move: PointerMove,
                pointer: str = PRODUCTION) -> None:
    log = read_log(store, semester, class_name, pointer)
    store.write_bytes(pointer_log_key(semester, class_name, pointer), log_to_bytes([*log, move]), "application/json")


__all__ = ["ACTIONS", "LATEST", "PRODUCTION", "PointerError", "PointerMove", "actor",
           "read_log", "rollback_target", "stack"]
