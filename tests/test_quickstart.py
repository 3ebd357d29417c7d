"""The README's first command: the quickstart builds its example class end to end, then is a no-op."""

from __future__ import annotations

import pytest

from tests.support.quickstart import QuickstartRun

pytestmark = pytest.mark.docker


def test_offline_quickstart_end_to_end_then_no_op(quickstart_run: QuickstartRun) -> None:
    first = quickstart_run.first
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    out = first.stdout
    assert "offline profile" in out and "[5/5] results" in out
    assert "[5/5 steps done]" in out and "smoke_tests" not in out.split("[5/5]")[1]  # results, not failures
    assert "Step 1/" in out  # the build log streamed while it ran
    assert "demo/latest/conda/conda-linux-64.lock" in out
    assert f"image:        {quickstart_run.registry}/demo:latest" in out

    second = quickstart_run.again()
    assert second.returncode == 0, second.stdout[-4000:]
    assert second.stdout.count("nothing to do") == 5  # server env and image, env files, image, release
