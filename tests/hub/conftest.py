"""Fixtures of the JupyterHub test: the hub harness (tests/support/hub.py) and the image it spawns.

`class_image_for_hub` is the demo class image as the pipeline released it (server stage + class
stage of the project Dockerfile, built once per session by tests/support/pipeline.py).
"""

from __future__ import annotations

import pytest

from tests.support.hub import hub, serve_git_repo  # noqa: F401  (fixtures used by the tests here)
from tests.support.pipeline import DEMO_PACKAGES


@pytest.fixture(scope="session")
def class_image_for_hub(demo_image: str) -> tuple[str, str, list[str]]:
    """(image ref, class name, modules the class env must import); the image is in the local engine."""
    return demo_image, "demo", list(DEMO_PACKAGES)
