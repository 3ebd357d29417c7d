"""Fault injection for release tests: a store that goes away after N writes, a registry whose
push fails after N tags. Both wrap the real thing (local folder or GCS emulator, real registry)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from jh_pipeline.images.resource import BuiltImage, DockerResource
from jh_pipeline.store.base import ArtifactStore
from jh_pipeline.store.local import LocalStore


class Interrupted(RuntimeError):
    """The injected failure (a store or registry that went away)."""


def _effects(store: ArtifactStore) -> tuple[str, ...]:
    # The lowest primitives that change anything: every write, rename and delete goes through them.
    return ("_write_file", "_replace", "_remove") if isinstance(store, LocalStore) else ("write_bytes", "delete")


@contextlib.contextmanager
def store_faults(store: ArtifactStore, budget: int | None = None) -> Iterator[list[str]]:
    """Count (and trace) every change the store makes; raise Interrupted at change number `budget`."""
    trace: list[str] = []

    def wrap(name: str, real: object) -> object:
        def effect(*args: object, **kwargs: object) -> object:
            if budget is not None and len(trace) >= budget:
                raise Interrupted(f"store gone before {name} {args[0]}")
            trace.append(f"{name} {args[0]}")
            return real(*args, **kwargs)  # type: ignore[operator]
        return effect

    names = _effects(store)
    for name in names:
        setattr(store, name, wrap(name, getattr(store, name)))  # the instance attribute shadows the method
    try:
        yield trace
    finally:
        for name in names:
            delattr(store, name)


@dataclass
class FlakyRegistry:
    """A real registry whose pushes fail after `pushes_left` more tags (None: never)."""

    inner: DockerResource
    pushes_left: int | None = None
    pushed: list[str] = field(default_factory=list)

    @property
    def registry(self) -> str:
        return self.inner.registry

    @property
    def hub_tag(self) -> str:
        return self.inner.hub_tag

    def remote_digest(self, ref: str) -> str | None:
        return self.inner.remote_digest(ref)

    def inspect(self, ref: str) -> BuiltImage:
        return self.inner.inspect(ref)

    def retag_and_push(self, source: str, targets: Iterable[str], log: object) -> dict[str, str]:
        out: dict[str, str] = {}
        for target in targets:
            if self.pushes_left is not None:
                if self.pushes_left <= 0:
                    raise Interrupted(f"push of {target} failed: connection refused")
                self.pushes_left -= 1
            out |= self.inner.retag_and_push(source, [target], log)  # type: ignore[arg-type]
            self.pushed.append(target)
        return out
