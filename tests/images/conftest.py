"""Fixtures of the image start-up contract tests (test_startup_contract.py).

``server_contract_image`` is the shared server image as the pipeline built, checked and pushed it
(target `server` of the project Dockerfile), from the session's demo release
(tests/support/pipeline.py); the class image of that release is ``demo_image``.
"""

from __future__ import annotations

import dagster as dg
import pytest

from tests.defs.e2e import metadata


@pytest.fixture(scope="session")
def server_contract_image(demo_release: dg.ExecuteInProcessResult) -> str:
    server = metadata(demo_release, "common/server_image")
    if not server.get("ref"):
        pytest.fail("the server image was not built: see tests/defs/test_image_e2e.py")
    return str(server["ref"])
