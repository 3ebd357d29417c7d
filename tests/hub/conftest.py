"""Fixtures of the JupyterHub test: the hub harness (tests/support/hub.py) and the image it spawns.

`class_image_for_hub` is the demo class image as the pipeline released it (server stage + class
stage of the project Dockerfile, built once per session by tests/support/pipeline.py);
`r_class_image_for_hub` is the R class (target r_lang) released the same way, and
`mysql_class_image_for_hub` the MySQL class (`mysql: true`) as the pipeline pushed it.
"""

from __future__ import annotations

import pytest

from tests.support.hub import ClassImage, hub, serve_git_repo  # noqa: F401  (hub, serve_git_repo: fixtures)
from tests.support.pipeline import DEMO_DISPLAY_NAME, DEMO_PACKAGES, R_DEMO_DISPLAY_NAME, SQL_DEMO_CLASS


@pytest.fixture(scope="session")
def class_image_for_hub(demo_image: str) -> ClassImage:
    return ClassImage(demo_image, "demo", DEMO_DISPLAY_NAME, DEMO_PACKAGES, ("xsqlite",))


@pytest.fixture(scope="session")
def r_class_image_for_hub(r_demo_image: str) -> ClassImage:
    # six: the e2e common list is in every class env; jhdemo: what its packages.R installs.
    return ClassImage(r_demo_image, "rdemo", R_DEMO_DISPLAY_NAME, ("six",), ("ir",), r_packages=("jhdemo",))


@pytest.fixture(scope="session")
def mysql_class_image_for_hub(sql_demo_image: str) -> ClassImage:
    # its class list (pymysql, ipykernel) and the e2e common list's six
    packages = (*SQL_DEMO_CLASS["requirements.txt"].split(), "six")
    return ClassImage(sql_demo_image, "sqldemo", "Python (sqldemo)", packages, ())  # no display_name: the default
