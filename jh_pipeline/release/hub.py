"""Hub settings for one released image, pinned by digest (pure).

Release writes them into the released set (``hub/``), so every pointer folder (``latest/``,
``production/``) carries the settings of exactly the image it names, next to its env files.
"""

from __future__ import annotations

import json

HUB_DIR = "hub"
Z2JH_VALUES = f"{HUB_DIR}/values.yaml"
DOCKERSPAWNER_CONFIG = f"{HUB_DIR}/jupyterhub_config.py"


def render_z2jh_values(repository: str, tag: str, digest: str, *, class_name: str, semester: str) -> str:
    """A Zero to JupyterHub ``singleuser`` values snippet; the tag is informative, the digest pins."""
    # JSON strings are valid YAML scalars: quoting cannot break on odd registry names.
    return (
        f"# Zero to JupyterHub values for {class_name} ({semester}), image {tag}, pinned by digest.\n"
        "singleuser:\n"
        "  image:\n"
        f"    name: {json.dumps(repository)}\n"
        f"    tag: {json.dumps(f'{tag}@{digest}')}\n"
        "  uid: 1000\n"
        "  fsGid: 100\n"
        "  cmd: jupyterhub-singleuser\n"
    )


def render_dockerspawner(repository: str, tag: str, digest: str, *, class_name: str, semester: str) -> str:
    return (
        f"# DockerSpawner setting for {class_name} ({semester}), image {tag}, pinned by digest.\n"
        f"c.DockerSpawner.image = {json.dumps(f'{repository}@{digest}')}\n"
    )


def hub_files(repository: str, tag: str, digest: str, *, class_name: str, semester: str) -> dict[str, bytes]:
    """The ``hub/`` files of a released set."""
    if not digest.startswith("sha256:"):
        raise ValueError(f"{repository}:{tag}: not a digest: {digest!r}")
    names = {"class_name": class_name, "semester": semester}
    return {
        Z2JH_VALUES: render_z2jh_values(repository, tag, digest, **names).encode(),
        DOCKERSPAWNER_CONFIG: render_dockerspawner(repository, tag, digest, **names).encode(),
    }
