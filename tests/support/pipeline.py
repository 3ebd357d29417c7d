"""pytest plugin: the example class released through the real pipeline, once per test session.

``demo_e2e`` is a repository with the e2e common lists and two base classes (``demo``, and
``tiny`` whose 1 MB size budget no image meets); ``demo_release`` is the run that materialized the
server env and image and ``demo``'s env, image and release. The image end-to-end tests and the
JupyterHub test read the same run instead of building the image again.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from tests.defs.e2e import E2E, make_e2e, metadata, run_class
from tests.support.common import SEMESTER

DEMO_PACKAGES = ("attrs", "tabulate", "six")  # class list, class pip list, common list
DEMO_DISPLAY_NAME = "Demo class"  # the launcher's name of its default kernel


def demo_class(budget: str | None = None) -> dict[str, str]:
    # sqlite: true adds the xeus-sqlite kernel (a setting is never silently ignored)
    yaml = f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\ndisplay_name: "{DEMO_DISPLAY_NAME}"\nsqlite: true\n'
    if budget:
        yaml += f"image_size_budget: {budget}\n"
    return {"class.yaml": yaml, "requirements.txt": "ipykernel\nattrs\n", "requirements.pip.txt": "tabulate==0.9.0\n"}


@pytest.fixture(scope="session")
def demo_e2e(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str) -> E2E:
    return make_e2e(tmp_path_factory.mktemp("e2e"), {"demo": demo_class(), "tiny": demo_class("1MB")},
                    channel_url=local_channel.url, registry=registry, foundation_image=foundation_image)


@pytest.fixture(scope="session")
def demo_release(demo_e2e: E2E) -> dg.ExecuteInProcessResult:
    return run_class(demo_e2e, "demo")


@pytest.fixture(scope="session")
def demo_image(demo_release: dg.ExecuteInProcessResult) -> str:
    """The released demo image (by content tag); fails the tests that need it when the release failed."""
    if not demo_release.success:
        pytest.fail("the demo class did not release: see tests/defs/test_image_e2e.py")
    return str(metadata(demo_release, "demo/image")["ref"])
