"""Bodies of `<class>/release` (publish the set, move `:latest`) and `<class>/production` (promote,
roll back). Where releases are promoted; the decisions are in `jh_pipeline.release`.

Release order, chosen so that an interruption at any point leaves a state the next run repairs and
students never see two sets mixed (the student index links to immutable `past/<set>/` files):

1. publish the set `past/<image tag>/` (env files, server env, hub settings): immutable, complete
   only once its manifest is written; nothing links to it yet;
2. move the registry tags (`:latest`, `:<semester>`, `:<git sha>`), the step most likely to fail;
3. write the release record (date, digest, size, packages) that history and promotion read;
4. switch the store's `latest/` (manifest last; a reader following it reads `past/<set>/`);
5. rewrite the student index (`index.html`, then `index.json`, which the completeness check reads).

A rerun skips only when every one of these is in place; otherwise it redoes them all, and each is
idempotent. Moving `production` follows the same order (registry tag, store pointer, index) and
appends to the pointer log last, so an interrupted move is not in the log and a rerun (even of
a default rollback) computes the same target again.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import dagster as dg
from pydantic import Field

from jh_pipeline.catalog import Catalog, ClassSpec
from jh_pipeline.defs.context import PipelineContext, StepResources, run_date
from jh_pipeline.defs.image_steps import RecordedImage, recorded_image, released_files
from jh_pipeline.envs.student_readme import stamp_release
from jh_pipeline.images.naming import image_repository
from jh_pipeline.images.resource import BuiltImage
from jh_pipeline.release.hub import Z2JH_VALUES, hub_files
from jh_pipeline.release.pointers import (
    ACTIONS,
    PointerError,
    PointerMove,
    actor,
    append_move,
    current,
    read_log,
    rollback_target,
)
from jh_pipeline.release.records import ReleaseRecord, package_versions, read_record, read_records, write_record
from jh_pipeline.store.base import LATEST, POINTERS, PRODUCTION, ArtifactStore
from jh_pipeline.release.index import indexed_sets, publish_semester_index

Log = Callable[[str], None]
TAG = "image_tag"


class Registry(Protocol):
    """What release needs of the registry (DockerResource has it; tests wrap it to inject faults)."""

    registry: str
    hub_tag: str  # the pointer hubs run (JH_HUB_TAG): the index marks it

    def remote_digest(self, ref: str) -> str | None: ...

    def retag_and_push(self, source: str, targets: Iterable[str], log: Log) -> dict[str, str]: ...

    def inspect(self, ref: str) -> BuiltImage: ...


class ReleaseError(RuntimeError):
    """The image to release or promote is not where it must be; the message says what to do."""


def git_sha(root: Path) -> str | None:
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha[:12]
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- release -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseOutcome:
    record: ReleaseRecord
    skipped: bool
    tags: dict[str, str]  # ref -> digest pushed (empty when skipped)
    index_key: str | None


def release_files(store: ArtifactStore, image: RecordedImage, class_key: str, repository: str, digest: str) -> dict[str, bytes]:
    """The released set: the files the image was built from (READMEs stamped with the set's
    permanent place), plus the hub settings pinned to the image's digest."""
    files = released_files(store, image)
    for path, data in files.items():
        if path.endswith("/README.md"):
            files[path] = stamp_release(data.decode(), class_name=class_key, semester=image.semester,
                                        set_id=image.tag, folder=path.rsplit("/", 1)[0]).encode()
    return files | hub_files(repository, image.tag, digest, class_name=class_key, semester=image.semester)


def class_env_solvable(store: ArtifactStore, image: RecordedImage, class_key: str) -> dict[str, bool] | None:
    """Where the class env solves, as the solve recorded it on the class's env set."""
    for where in image.sets:
        if where["owner"] == class_key:
            manifest = store.read_set_manifest(where["semester"], where["owner"], where["set_id"])
            if manifest is not None and manifest.solvable is not None:
                return manifest.solvable
    return None


def release_is_complete(store: ArtifactStore, registry: Registry, image: RecordedImage, class_key: str,
                        digest: str) -> bool:
    """Every release step is in place for this image (see the module docstring)."""
    repository = image.ref.rsplit(":", 1)[0]
    record = read_record(store, image.semester, class_key, image.tag)
    return (
        record is not None and record.digest == digest
        and all(registry.remote_digest(f"{repository}:{t}") == digest for t in (LATEST, image.semester))
        and store.pointer_is_current(image.semester, class_key, LATEST, image.tag)
        and indexed_sets(store, image.semester).get(class_key, {}).get(LATEST) == image.tag
    )


def release_image(
    store: ArtifactStore, registry: Registry, image: RecordedImage, class_key: str, *, catalog: Catalog,
    sha: str | None, force: bool, log: Log, now: datetime | None = None,
) -> ReleaseOutcome:
    digest = registry.remote_digest(image.ref)
    if digest is None:
        raise ReleaseError(f"{class_key}: {image.ref} is not in the registry (build failed or checks failed)")
    if not force and release_is_complete(store, registry, image, class_key, digest):
        log(f"{class_key}: latest already is {image.tag}; nothing to do")
        record = read_record(store, image.semester, class_key, image.tag)
        assert record is not None
        return ReleaseOutcome(record, True, {}, None)

    repository = image.ref.rsplit(":", 1)[0]
    files = release_files(store, image, class_key, repository, digest)
    store.publish_set(image.semester, class_key, image.tag, files,
                      solvable=class_env_solvable(store, image, class_key))  # 1
    targets = [f"{repository}:{t}" for t in (LATEST, image.semester, *([sha] if sha else []))]
    pushed = registry.retag_and_push(image.ref, targets, log)  # 2
    moved = {ref: d for ref, d in pushed.items() if d and d != digest}
    if moved:
        raise ReleaseError(f"{class_key}: the registry reports {moved} for tags of {image.ref} ({digest})")
    known = read_record(store, image.semester, class_key, image.tag)
    record = ReleaseRecord(  # 3; a rerun keeps the date of the first release of this digest
        semester=image.semester, class_name=class_key, set_id=image.tag, repository=repository, digest=digest,
        size_bytes=registry.inspect(image.ref).size,
        released_at=known.released_at if known and known.digest == digest else (now or _now()),
        git_sha=sha, tags=sorted(t.rsplit(":", 1)[1] for t in targets), packages=package_versions(files),
    )
    if record != known:
        write_record(store, record)
    store.switch_pointer(image.semester, class_key, LATEST, image.tag)  # 4
    index = publish_semester_index(store, image.semester, catalog, registry.registry, registry.hub_tag)  # 5
    return ReleaseOutcome(record, False, pushed, index)


def materialize_release(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, res: StepResources
) -> dg.MaterializeResult:
    store = res.store
    image = recorded_image(context, spec)
    try:
        out = release_image(store, res.docker, image, spec.key, catalog=ctx.catalog,
                            sha=git_sha(ctx.root), force=res.force, log=context.log.info)
    except ReleaseError as exc:
        raise dg.Failure(description=str(exc)) from exc
    r = out.record
    meta: dict[str, object] = {TAG: r.set_id, "digest": r.digest, "skipped": out.skipped}
    if not out.skipped:
        meta |= {
            "tags": dg.MetadataValue.json(sorted(out.tags)), "size_mb": round(r.size_bytes / 1e6, 1),
            "released_at": r.released_at.isoformat(),
            "env_files": dg.MetadataValue.url(store.uri(f"{r.semester}/{spec.key}/past/{r.set_id}")),
            "student_index": dg.MetadataValue.url(store.uri(out.index_key or "")),
        }
    return dg.MaterializeResult(data_version=dg.DataVersion(r.set_id), metadata=meta)


# --- production: promote and roll back -------------------------------------------------------------------


def resolve_set(store: ArtifactStore, registry: Registry, semester: str, class_key: str, value: str) -> ReleaseRecord:
    """A released set named by its id (= content tag), a pointer (latest, production) or any registry
    tag of the class (semester, git sha): the newest release record with that tag's digest."""
    records = read_records(store, semester, class_key)
    by_set = {r.set_id: r for r in records}
    if value in by_set:
        return by_set[value]
    if value in POINTERS:
        manifest = store.read_pointer_manifest(semester, class_key, value)
        if manifest is None or manifest.set_id not in by_set:
            raise PointerError(f"{class_key}: {value} names no released set in {semester}")
        return by_set[manifest.set_id]
    digest = registry.remote_digest(f"{image_repository(registry.registry, class_key)}:{value}")
    found = [r for r in records if digest is not None and r.digest == digest]
    if not found:
        known = ", ".join(r.set_id for r in reversed(records)) or "none"
        raise PointerError(f"{class_key}: {value!r} is neither a released set of {semester} nor a registry tag of one "
                           f"(released sets: {known}; see `jh-pipeline history {class_key}`)")
    return found[-1]


@dataclass(frozen=True)
class MoveOutcome:
    move: PointerMove
    skipped: bool
    ref: str  # <repository>:production


def move_production(
    store: ArtifactStore, registry: Registry, *, semester: str, class_key: str, action: str, target: str | None,
    by: str, catalog: Catalog, log: Log, now: datetime | None = None,
) -> MoveOutcome:
    if action not in ACTIONS:
        raise PointerError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    moves = read_log(store, semester, class_key)
    value = target or (LATEST if action == "promote" else rollback_target(moves))
    record = resolve_set(store, registry, semester, class_key, value)
    remote = registry.remote_digest(record.ref)
    if remote != record.digest:
        raise ReleaseError(f"{class_key}: {record.ref} is {remote or 'not in the registry'}, but release recorded "
                           f"{record.digest}; release it again before moving production")
    before = current(moves) or getattr(store.read_pointer_manifest(semester, class_key, PRODUCTION), "set_id", None)
    before_record = read_record(store, semester, class_key, before) if before else None
    ref = f"{record.repository}:{PRODUCTION}"
    move = PointerMove(action=action, set_id=record.set_id, digest=record.digest, from_set=before,  # type: ignore[arg-type]
                       from_digest=before_record.digest if before_record else None, by=by, at=now or _now())
    in_log = current(moves) == record.set_id
    consistent = (
        registry.remote_digest(ref) == record.digest
        and store.pointer_is_current(semester, class_key, PRODUCTION, record.set_id)
        and indexed_sets(store, semester).get(class_key, {}).get(PRODUCTION) == record.set_id
    )
    if in_log and consistent:
        log(f"{class_key}: production already is {record.set_id} ({record.digest}); nothing to do")
        return MoveOutcome(moves[-1], True, ref)
    pushed = registry.retag_and_push(record.ref, [ref], log)  # 1
    if pushed.get(ref) and pushed[ref] != record.digest:
        raise ReleaseError(f"{class_key}: pushing {ref} gave {pushed[ref]}, expected {record.digest}")
    store.switch_pointer(semester, class_key, PRODUCTION, record.set_id)  # 2
    publish_semester_index(store, semester, catalog, registry.registry, registry.hub_tag)  # 3
    if not in_log:
        append_move(store, semester, class_key, move)  # 4: the move is done
    log(f"{class_key}: production {before or '(none)'} -> {record.set_id} ({record.digest}) by {by}")
    return MoveOutcome(move, False, ref)


class PointerMoveConfig(dg.Config):
    """Run config of `<class>/production` (the UI's launchpad, `jh-pipeline promote/rollback`)."""

    action: str = Field("", description="promote | rollback; empty: production stays where it is")
    target: str = Field("", description="image tag or set id; default: the current latest (promote) "
                                        "or the previous production (rollback)")
    by: str = Field("", description="who moves it (default $GITHUB_ACTOR, else $USER)")


def materialize_production(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, config: PointerMoveConfig,
    res: StepResources,
) -> Iterator[dg.MaterializeResult]:
    if not config.action:
        # A run over every asset (a schedule, "Materialize all") must never move production.
        context.log.info(f"{spec.key}: no action given; production moves only on promote or rollback")
        return
    store, docker = res.store, res.docker
    semester = ctx.semester(spec, run_date(context))
    try:
        out = move_production(store, docker, semester=semester, class_key=spec.key, action=config.action,
                              target=config.target or None, by=config.by or actor(), catalog=ctx.catalog,
                              log=context.log.info)
    except (PointerError, ReleaseError) as exc:
        raise dg.Failure(description=str(exc)) from exc
    m = out.move
    yield dg.MaterializeResult(
        data_version=dg.DataVersion(m.set_id),
        metadata={
            "action": m.action, "skipped": out.skipped, "tag": out.ref, TAG: m.set_id,
            "to_digest": m.digest, "from_set": m.from_set or "", "from_digest": m.from_digest or "",
            "by": m.by, "at": m.at.isoformat(),
            "hub_values": dg.MetadataValue.url(store.uri(f"{semester}/{spec.key}/{PRODUCTION}/{Z2JH_VALUES}")),
        },
    )
