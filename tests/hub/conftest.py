"""Fixtures of the JupyterHub test: the hub harness (tests/support/hub.py) and the image it spawns.

`class_image_for_hub` is the demo class image as the pipeline released it (server stage + class
stage of the project Dockerfile, built once per session by tests/support/pipeline.py);
`r_class_image_for_hub` is the R class (target r_lang) released the same way.
"""

from __future__ import annotations

import pytest

from tests.support.hub import ClassImage, hub, serve_git_repo  # noqa: F401  (hub, serve_git_repo: fixtures)
from tests.support.pipeline import DEMO_DISPLAY_NAME, DEMO_PACKAGES, R_DEMO_DISPLAY_NAME


@pytest.fixture(scope="session")
def class_image_for_hub(demo_image: str) -> ClassImage:
    return ClassImage(demo_image, "demo", DEMO_DISPLAY_NAME, DEMO_PACKAGES, ("xsqlite",))


@pytest.fixture(scope="session")
def r_class_image_for_hub(r_demo_image: str) -> ClassImage:
    # six: the e2e common list is in every class env; jhdemo: what its packages.R installs.
    return ClassImage(r_demo_image, "rdemo", R_DEMO_DISPLAY_NAME, ("six",), ("ir",), r_packages=("jhdemo",))
