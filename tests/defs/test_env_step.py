"""The real conda_env body against the local channel: solve, publish, skip when the set exists."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import force_run_config
from jh_pipeline.definitions import build_definitions
from jh_pipeline.store import LocalStore
from tests.catalog.conftest import write_tree
from tests.defs.e2e import metadata
from tests.support.common import SEMESTER, free_port


def make_repo(root: Path, classes: dict[str, str]) -> Path:
    files = {
        name: {
            "class.yaml": f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\n',
            "requirements.txt": conda,
        }
        for name, conda in classes.items()
    }
    write_tree(root / "requirements", {"requirements.txt": "# shared\nsix\n"}, files)
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"demo": "attrs\ntabulate\n", "broken": "attrs\nsix=99\n"})


def _defs(repo: Path, channel_url: str) -> dg.Definitions:
    return build_definitions(PipelineContext(repo, channel_map={"conda-forge": channel_url}))


def _materialize(defs: dg.Definitions, keys: list[str], resources: dict[str, Any]) -> dg.ExecuteInProcessResult:
    selection = dg.AssetSelection.assets(*[dg.AssetKey(k.split("/")) for k in keys])
    return dg.materialize(
        list(defs.assets or []), instance=dg.DagsterInstance.ephemeral(), resources=resources,
        selection=selection, raise_on_error=False,
    )




def test_solves_publishes_then_skips_on_a_fresh_instance(
    repo: Path, local_channel: Any, resources: dict[str, Any], tmp_path: Path
) -> None:
    defs = _defs(repo, local_channel.url)
    first = _materialize(defs, ["demo/conda_env"], resources)
    assert first.success
    meta = metadata(first, "demo/conda_env")
    assert meta["skipped"] is False and meta["conda_packages"] >= 4
    assert meta["solvable_linux-64"] is True

    store = LocalStore(tmp_path / "store")
    files = store.read_set_files(SEMESTER, "demo", meta["set_id"])
    assert set(files) >= {
        "conda/environment.yml", "conda/environment.nb.yml", "conda/conda-linux-64.lock",
        "conda/conda-lock.yml", "conda/packages.txt", "conda/README.md",
    }
    lock = files["conda/conda-linux-64.lock"].decode()
    assert "@EXPLICIT" in lock and "/attrs-" in lock and "/tabulate-" in lock and "/six-" in lock

    started = time.monotonic()
    second = _materialize(_defs(repo, local_channel.url), ["demo/conda_env"], resources)  # new instance: no history
    elapsed = time.monotonic() - started
    assert second.success
    again = metadata(second, "demo/conda_env")
    assert again["skipped"] is True and again["set_id"] == meta["set_id"]
    assert elapsed < 10


def test_unsatisfiable_class_fails_alone_and_publishes_nothing(
    repo: Path, local_channel: Any, resources: dict[str, Any], tmp_path: Path
) -> None:
    result = _materialize(_defs(repo, local_channel.url), ["demo/conda_env", "broken/conda_env"], resources)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "broken__conda_env"
    message = failure.step_failure_data.error.message
    assert "six=99" in message and "broken/requirements.txt:2" in message
    assert LocalStore(tmp_path / "store").list(f"{SEMESTER}/broken") == []
    assert metadata(result, "demo/conda_env")["skipped"] is False  # the other class went on


def test_unreachable_channel_fails_in_one_line_naming_the_channel_and_setting(
    repo: Path, resources: dict[str, Any]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/conda-forge"  # nothing listens there
    result = _materialize(_defs(repo, dead), ["demo/conda_env"], resources)
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    first_line = failure.step_failure_data.error.message.splitlines()[0]
    assert dead in first_line and "JH_CHANNEL_MAP" in first_line and "JH_CONDA_CHANNEL_ALIAS" in first_line
    assert "Failure" in failure.step_failure_data.error.cls_name  # a clean failure, not a GatewayError


def test_invalid_class_is_refused_before_solving(tmp_path: Path, local_channel: Any, resources: dict[str, Any]) -> None:
    repo = make_repo(tmp_path / "repo", {"bad": "x=1.*\nx=2.*\n"})
    result = _materialize(_defs(repo, local_channel.url), ["bad/conda_env"], resources)
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "class bad has errors; run jh-pipeline validate" in failure.step_failure_data.error.message


def test_cli_materialize_is_a_no_op_when_nothing_changed(repo: Path, local_channel: Any, tmp_path: Path) -> None:
    """What CI runs: `dagster asset materialize` on a fresh DAGSTER_HOME each time."""
    env = {
        **os.environ,
        "JH_REPO_ROOT": str(repo),
        "JH_CHANNEL_MAP": f"conda-forge={local_channel.url}",
        "JH_STORE_DIR": str(tmp_path / "cli-store"),
    }

    def run() -> subprocess.CompletedProcess[str]:
        home = tmp_path / f"home-{time.monotonic_ns()}"
        home.mkdir()
        return subprocess.run(
            [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "jh_pipeline.definitions",
             "--select", "demo/conda_env"],
            env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300, check=False,
        )

    first = run()
    assert first.returncode == 0, first.stderr[-3000:]
    assert "solving" in first.stderr
    second = run()
    assert second.returncode == 0, second.stderr[-3000:]
    assert "already exist at" in second.stderr and "nothing to do" in second.stderr, second.stderr[-4000:]
    assert "solving" not in second.stderr
    assert LocalStore(tmp_path / "cli-store").list(f"{SEMESTER}/demo/past")


def test_force_option_re_solves_unchanged_inputs(repo: Path, local_channel: Any, resources: dict[str, Any]) -> None:
    defs = _defs(repo, local_channel.url)
    first = metadata(_materialize(defs, ["demo/conda_env"], resources), "demo/conda_env")
    forced = dg.materialize(
        list(defs.assets or []), instance=dg.DagsterInstance.ephemeral(), resources=resources,
        selection=dg.AssetSelection.assets(dg.AssetKey(["demo", "conda_env"])), run_config=force_run_config(),
    )
    again = metadata(forced, "demo/conda_env")
    assert again["skipped"] is False  # the semester rebuild re-solves even when nothing changed
    assert again["set_id"] != first["set_id"] and again["set_id"].startswith(first["set_id"] + "-")


def test_semester_is_fixed_when_the_run_is_created(
    tmp_path: Path, local_channel: Any, resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started on the last day of a term files its sets under that term, even when the clock has
    moved on by the time a step runs: the steps read the run's creation day, not the clock."""
    import datetime as real_datetime

    from jh_pipeline.defs import context as context_module
    from jh_pipeline.semester import semester_for

    repo = tmp_path / "repo"
    write_tree(repo / "requirements", {"requirements.txt": "six\n"},
               {"nosem": {"class.yaml": 'target: base\npython_version: "3.11"\n', "requirements.txt": "attrs\n"}})

    class NextTerm(real_datetime.date):
        @classmethod
        def today(cls) -> NextTerm:
            return cls(2031, 2, 1)  # another term than the run's

    monkeypatch.setattr(context_module, "date", NextTerm)
    result = _materialize(_defs(repo, local_channel.url), ["nosem/conda_env"], resources)
    assert result.success
    created = real_datetime.datetime.now(real_datetime.timezone.utc).date()
    semesters = {k.split("/")[0] for k in LocalStore(resources["store"].local_root).list()}
    assert semesters == {semester_for(created)} != {semester_for(NextTerm.today())}


def test_an_unreachable_store_fails_the_step_in_bounded_time_naming_the_setting(
    repo: Path, local_channel: Any, resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jh_pipeline.defs.resources import ArtifactStoreResource

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    store = ArtifactStoreResource(backend="gcs", bucket="jh-envs", timeout=2)
    started = time.monotonic()
    result = _materialize(_defs(repo, local_channel.url), ["demo/conda_env"], {**resources, "store": store})
    elapsed = time.monotonic() - started
    assert not result.success and elapsed < 30, f"{elapsed:.0f}s"
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert description.splitlines()[0].startswith("artifact store gs://jh-envs (emulator http://127.0.0.1:")
    assert "(check JH_GCS_BUCKET" in description.splitlines()[0]
