"""Registry-backed build cache of class images: which stage images a build leaves, their cache tags,
and the rule that prunes them (pure; the registry calls are DockerResource's).

The classic builder reuses a layer only when an image holding it is in the engine (its own build
history, or an image passed as ``cache_from``). A CI runner starts empty, so every class build
pushes the image of each stage it walked (``conda_env``, ``pip_packages``, ``r_packages``, ...) and
the class image itself to the class's cache repository ``<cache repository>/<class>``:

    <stage>-<content tag>   the stage image of the build of that class image tag (content-addressed)
    <stage>                 the stage image of the class's last build (moving)

A build pulls, for each stage of its target, the tag of its own content tag when it exists (a
rebuild of the same inputs) and else the moving tag (the previous build: every stage whose inputs
did not change is then a cache hit), and passes what it got as ``cache_from``.

Cache tags live in their own repositories, so they never count as releases (which are tags of
``<registry>/<class>``) and deleting one never touches a released tag.

Prune rule (``prune_plan``, run after every push): per class, keep the moving tags and the tags
of the newest ``keep`` content tags (by the creation time of their newest image); delete every
other cache tag, except when its manifest is also named by a kept tag (the registry deletes
manifests, i.e. every tag on them; a stage whose inputs did not change has the same manifest in
several builds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# The image of the target itself, among the stage tags.
IMAGE_STAGE = "image"
# Stages every other stage stands on: their layers come with the stages built on them.
PREFIX_STAGES = frozenset({"ca", "tools"})

_STAGE = re.compile(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_STEP_FROM = re.compile(r"^Step \d+/\d+ : FROM \S+(?: AS (\S+))?\s*$", re.IGNORECASE)
_IMAGE_ID = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")


def stages_before(dockerfile: str, target: str) -> list[str]:
    """The stages the classic builder walks before `target` (all earlier stages in file order)."""
    names = _STAGE.findall(dockerfile)
    if target not in names:
        raise ValueError(f"the Dockerfile has no stage {target!r}")
    return names[: names.index(target)]


def cache_stages(dockerfile: str, target: str) -> list[str]:
    """Stage images worth keeping for a build of `target`: every earlier stage but the pure
    prefixes, then the target's own image."""
    return [s for s in stages_before(dockerfile, target) if s not in PREFIX_STAGES] + [IMAGE_STAGE]


def stage_images(log: Iterable[str]) -> dict[str, str]:
    """Stage name -> the (short) id of its last step's image, from a classic build's log.

    Each stage starts with a `Step i/n : FROM x AS name` line; after every step the builder prints
    ` ---> <image id>`; the last id before the next FROM is the stage's image.
    """
    found: dict[str, str] = {}
    stage: str | None = None
    for line in log:
        step = _STEP_FROM.match(line.rstrip("\n"))
        if step:
            stage = step.group(1)
            continue
        image = _IMAGE_ID.match(line.rstrip("\n"))
        if image and stage:
            found[stage] = image.group(1)
    return found


def cache_repository(cache_root: str, class_key: str) -> str:
    return f"{cache_root.rstrip('/')}/{class_key}"


def keyed_tag(stage: str, key: str) -> str:
    return f"{stage}-{key}"


def restore_candidates(stages: Iterable[str], key: str) -> list[tuple[str, str]]:
    """(stage, tag) pairs to try, per stage the exact tag first, then the moving one."""
    out: list[tuple[str, str]] = []
    for stage in stages:
        out += [(stage, keyed_tag(stage, key)), (stage, stage)]
    return out


@dataclass(frozen=True)
class CacheTag:
    tag: str
    digest: str  # manifest digest
    created: str  # RFC 3339 creation time of the image (sorts as text within one time zone: UTC)


def split_tag(tag: str, stages: Iterable[str]) -> tuple[str, str | None]:
    """(stage, content tag or None for a moving tag); the longest stage name that fits wins."""
    for stage in sorted(stages, key=len, reverse=True):
        if tag == stage:
            return stage, None
        if tag.startswith(stage + "-"):
            return stage, tag[len(stage) + 1:]
    return tag, None  # not ours: treated as moving (kept)


def prune_plan(tags: Iterable[CacheTag], keep: int, stages: Iterable[str]) -> list[CacheTag]:
    """The cache tags to delete under the prune rule (module docstring)."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the last build's cache is what the next build needs")
    tags = list(tags)
    stages = list(stages)
    newest: dict[str, str] = {}
    for t in tags:
        _, key = split_tag(t.tag, stages)
        if key is not None:
            newest[key] = max(newest.get(key, ""), t.created)
    kept_keys = set(sorted(newest, key=lambda k: (newest[k], k), reverse=True)[:keep])
    doomed = [t for t in tags if (k := split_tag(t.tag, stages)[1]) is not None and k not in kept_keys]
    kept_digests = {t.digest for t in tags if t not in doomed}
    return sorted((t for t in doomed if t.digest not in kept_digests), key=lambda t: t.tag)


def known_stages(dockerfile: str) -> list[str]:
    return [*_STAGE.findall(dockerfile), IMAGE_STAGE]

