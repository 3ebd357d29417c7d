"""`jh-pipeline ui` in a real browser: Materialize works by clicking, and the UI stops what it started.

Starts `jh-pipeline ui --offline` on a free 127.0.0.1 port in the folder the session's quickstart
used (tests/support/quickstart.py: its DAGSTER_HOME, store, and the registry it left running, as a
student who ran the README's first command and then opens the UI), drives Debian's Chromium with
tests/ui/materialize_class.js (playwright-core): asset graph -> the `common` group and the
`classes/demo` group -> Materialize -> runs succeed (each step finds its result in place: the build
itself is the quickstart's) -> the demo/image page shows the pushed digest and the smoke_tests check.
The UI stops what it started (dagster dev, the channel) and leaves the quickstart's registry. The same
script makes the README's picture (scripts/screenshot-asset-graph.sh).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest

from jh_pipeline.processes import pid_alive
from jh_pipeline.ui import group_members
from tests.support.docker import free_port
from tests.support.quickstart import QuickstartRun

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "ui" / "materialize_class.js"
CLASS = "demo"
# Channel build (cached), foundation check and code location load; the runs have their own timeout.
READY_SECONDS = 900
RUN_SECONDS = 1800
# The automation sensor stays on (as in a deployment) but must not race the clicks: it materializes
# only after it observed the requirements folders, which this cron puts a year away.
FAR_CRON = "0 0 1 1 *"
MANIFESTS = (
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
)


def graphql(base: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{base}/graphql", json.dumps({"query": query}).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert not body.get("errors"), body["errors"]
    return body["data"]


def registry_digest(registry: str, repository: str, tag: str) -> str:
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{tag}", method="HEAD",
                                     headers={"Accept": MANIFESTS})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"]


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (enough to tell a blank one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big"))
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def port_open(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def wait_for_line(proc: subprocess.Popen[str], log: Path, pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text())
        if match:
            return match
        if proc.poll() is not None:
            pytest.fail(f"jh-pipeline ui exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        time.sleep(1)
    pytest.fail(f"jh-pipeline ui printed no {pattern!r} within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def test_ui_materializes_a_class_by_clicking(quickstart_run: QuickstartRun, tmp_path: Path) -> None:
    assert quickstart_run.first.returncode == 0, quickstart_run.first.stdout[-3000:]
    ui_port = free_port()
    registry_port = int(quickstart_run.env["JH_QUICKSTART_REGISTRY_PORT"])
    channel_port = int(quickstart_run.env["JH_OFFLINE_CHANNEL_PORT"])
    env = {**quickstart_run.env, "JH_OBSERVE_CRON": FAR_CRON}
    env.pop("JH_SEMESTER_CRON", None)  # the default schedule, whose next tick is asserted
    out = tmp_path / "browser"
    log = tmp_path / "ui.log"
    with log.open("w") as sink:
        ui = subprocess.Popen([sys.executable, "-m", "jh_pipeline.cli", "ui", "--offline", "--port", str(ui_port)],
                              cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{ui_port}"
    started: dict[str, int] = {}
    group: list[int] = []
    try:
        dev = wait_for_line(ui, log, r"dagster dev: pid (\d+) \(process group (\d+)\)", READY_SECONDS)
        started["dagster dev"], pgid = int(dev.group(1)), int(dev.group(2))
        wait_for_line(ui, log, re.escape(f"Dagster UI:   {base}"), READY_SECONDS)
        # The quickstart's registry answers: the UI uses it and does not start (or stop) one.
        assert not re.search(r"started \(stopped on exit\): .*registry pid", log.read_text()), log.read_text()

        browser = subprocess.run(["node", str(SCRIPT), base, CLASS, str(out), str(RUN_SECONDS)], cwd=REPO,
                                 capture_output=True, text=True, timeout=RUN_SECONDS * 2 + 600, check=False)
        assert browser.returncode == 0, browser.stderr[-6000:] + "\n--- ui log ---\n" + log.read_text()[-3000:]
        result = json.loads(browser.stdout.strip().splitlines()[-1])
        group = group_members(pgid)  # webserver, daemon, code server: all must be gone after the stop

        # What was clicked, and what Dagster ran for it (from its API, not from the page).
        # The class group's "Materialize all" also selects <class>/production, which moves only when the
        # run config names an action: a plain click builds and releases, production stays where it is.
        assert result["clicked"] == ["common: Materialize all (2)", f"classes/{CLASS}: Materialize all (4)"]
        runs = graphql(base, '{ runsOrError(filter: { tags: [{ key: "dagster/from_ui", value: "true" }] }) '
                             "{ ... on Runs { results { runId status assetSelection { path } } } } }")
        by_id = {r["runId"]: r for r in runs["runsOrError"]["results"]}
        expected = {"common": {"common/server_env", "common/server_image"},
                    CLASS: {f"{CLASS}/conda_env", f"{CLASS}/image", f"{CLASS}/release", f"{CLASS}/production"}}
        for name, run_id in result["runs"].items():
            run = by_id[run_id]
            assert run["status"] == "SUCCESS"
            assert {"/".join(a["path"]) for a in run["assetSelection"]} == expected[name]

        # Automation: the schedule and the sensor run, each page showing its next tick.
        schedule, sensor = result["automation"]["semester_rebuild_schedule"], result["automation"]["classes_on_change"]
        assert schedule["running"] and re.fullmatch(r"(Jan|Aug) 2, \d{4}, 3:00:00 AM UTC", schedule["next_tick"]), schedule
        assert sensor["running"] and re.search(r"\d{1,2}:\d{2}:\d{2} [AP]M", sensor["next_tick"]), sensor

        # The page shows the digest the registry serves for the released image.
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", result["digest"])
        assert result["digest"] == registry_digest(f"127.0.0.1:{registry_port}", CLASS, "latest")
        # The checks tab shows the blocking smoke check and its latest result.
        assert "smoke_tests" in result["checks_page"] and "blocking asset check" in result["checks_page"]
        assert result["check"]["result"] in ("Passed", "Succeeded"), result["checks_page"][:3000]

        for name in ("asset-graph.png", "image-asset.png", "image-checks.png"):
            width, height, pixels = png_pixels(out / name)
            assert width >= 1000 and height >= 800, (name, width, height)
            assert len(set(pixels)) > 50 and (out / name).stat().st_size > 20_000, f"{name} looks blank"
    finally:
        if ui.poll() is None:
            ui.send_signal(signal.SIGTERM)
            try:
                ui.wait(timeout=120)
            except subprocess.TimeoutExpired:
                ui.kill()
                ui.wait(timeout=10)
        left = {pid for pid in [*started.values(), *group] if pid_alive(pid)}
        for pid in left:  # not left behind by the test either, whatever is asserted below
            os.kill(pid, signal.SIGKILL)

    text = log.read_text()
    assert ui.returncode == 0, text[-3000:]
    assert "stopped the Dagster UI and what this command started" in text, text[-3000:]
    assert group, "no process of dagster dev's group was seen while the UI ran"
    assert not left, f"still running after the UI stopped: {sorted(left)} of {started} + group {group}"
    assert not group_members(pgid), group_members(pgid)
    for port in (ui_port, channel_port):
        assert not port_open(port), f"127.0.0.1:{port} still answers"
    assert port_open(registry_port), "the UI stopped the registry the quickstart left running"
