"""Promote, roll back, history and hub settings: the CLI runs Dagster materializations of
`<class>/production` in the DAGSTER_HOME instance, against the real registry and both store backends.
An interrupted move converges on rerun."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from jh_pipeline.cli import main
from jh_pipeline.defs.release_steps import move_production, release_image
from jh_pipeline.release.hub import Z2JH_VALUES
from jh_pipeline.release.pointers import read_log
from jh_pipeline.store import GCSStore, LocalStore
from jh_pipeline.store.base import PRODUCTION
from jh_pipeline.release.index import indexed_sets
from tests.release.conftest import BUCKET, CLASS, SHA, TAG_A, TAG_B, Bench, restore, snapshot
from tests.release.faults import FlakyRegistry, Interrupted, store_faults
from tests.release.test_release_order import interruption_points

pytestmark = pytest.mark.docker
ACTOR = "octo-operator"


def release_both(bench: Bench) -> None:
    for image in (bench.a, bench.b):
        release_image(bench.store, bench.docker, image, CLASS, catalog=bench.catalog, sha=SHA, force=False,
                      log=lambda _: None)


@pytest.fixture
def cli_env(bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings `jh-pipeline` reads, pointing at this bench; returns DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("JH_REPO_ROOT", str(bench.repo))
    monkeypatch.setenv("JH_REGISTRY", bench.docker.registry)
    monkeypatch.setenv("GITHUB_ACTOR", ACTOR)
    monkeypatch.delenv("JH_HUB_TAG", raising=False)
    if isinstance(bench.store, LocalStore):
        monkeypatch.setenv("JH_STORE_DIR", str(bench.store.root))
    else:
        assert isinstance(bench.store, GCSStore)
        monkeypatch.setenv("JH_STORE_BACKEND", "gcs")
        monkeypatch.setenv("JH_GCS_BUCKET", BUCKET)
        monkeypatch.setenv("JH_GCS_PREFIX", bench.store.prefix)
    return home


def production_event(home: Path) -> dict[str, object]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey([CLASS, "production"]))
        assert event is not None and event.asset_materialization is not None
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def assert_production(bench: Bench, tag: str) -> None:
    digest = bench.digests[tag]
    assert bench.digest(PRODUCTION) == digest
    assert bench.store.pointer_is_current(bench.semester, CLASS, PRODUCTION, tag)
    assert indexed_sets(bench.store, bench.semester)[CLASS][PRODUCTION] == tag
    assert read_log(bench.store, bench.semester, CLASS)[-1].set_id == tag


def test_promote_rollback_history_and_hub_config(bench: Bench, cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    release_both(bench)  # latest is B
    assert main(["hub-config", CLASS]) == 1
    assert "no production hub settings" in capsys.readouterr().err

    assert main(["promote", CLASS, "--from", TAG_A]) == 0
    assert_production(bench, TAG_A)
    first = production_event(cli_env)
    assert first["action"] == "promote" and first["to_digest"] == bench.digests[TAG_A] and first["from_set"] == ""
    assert first["by"] == ACTOR and first["tag"] == f"{bench.repository}:production" and first["at"]

    capsys.readouterr()
    assert main(["hub-config", CLASS]) == 0
    printed = capsys.readouterr().out
    values = yaml.safe_load(printed.split("# --- DockerSpawner")[0])
    reported = bench.digest(PRODUCTION)  # what the registry says :production is
    assert values["singleuser"]["image"] == {"name": bench.repository, "tag": f"{TAG_A}@{reported}"}
    assert f'c.DockerSpawner.image = "{bench.repository}@{reported}"' in printed
    # ... and the same settings sit next to the env files in production/
    assert bench.store.read_bytes(f"{bench.semester}/{CLASS}/production/{Z2JH_VALUES}").decode() in printed

    assert main(["promote", CLASS]) == 0  # default: the current latest (B)
    assert_production(bench, TAG_B)
    second = production_event(cli_env)
    assert (second["from_set"], second["from_digest"]) == (TAG_A, bench.digests[TAG_A])
    assert second["to_digest"] == bench.digests[TAG_B]
    assert main(["promote", CLASS, "--from", bench.semester]) == 0  # a registry tag naming B: nothing to do
    assert production_event(cli_env)["skipped"] is True

    assert main(["rollback", CLASS]) == 0  # default: the previous production
    assert_production(bench, TAG_A)
    assert production_event(cli_env)["action"] == "rollback"
    capsys.readouterr()
    assert main(["rollback", CLASS]) == 1
    assert "nothing to roll back to" in capsys.readouterr().err
    assert main(["promote", CLASS, "--from", "c-nosuchtag000"]) == 1
    assert "neither a released set" in capsys.readouterr().err
    assert [m.action for m in read_log(bench.store, bench.semester, CLASS)] == ["promote", "promote", "rollback"]

    assert main(["history", CLASS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{CLASS} ({bench.semester}): 2 release(s), newest first"
    newest = next(i for i, line in enumerate(lines) if TAG_B in line)
    oldest = next(i for i, line in enumerate(lines) if TAG_A in line)
    assert newest < oldest and lines[newest].endswith("[latest]") and lines[oldest].endswith("[production]")
    assert bench.digests[TAG_B] in lines[newest] and " MB" in lines[newest]
    changes = lines[newest + 1:oldest]
    assert "    + conda:zz-added-package 1.0" in changes
    assert any(line.startswith("    - conda:") for line in changes)
    assert any(line.startswith("    ~ conda:") and ".post1" in line for line in changes)
    assert lines[oldest + 1].startswith("    first release:")

    index = bench.store.read_bytes(f"{bench.semester}/index.html").decode()
    section = index.split(f'data-class="{CLASS}"')[1].split("</section>")[0]
    assert f"{bench.repository}@{bench.digests[TAG_A]}" in section and "Promoted 20" in section
    assert f"{CLASS}/past/{TAG_A}/conda/environment.yml" in section


def test_production_asset_does_nothing_without_an_action(bench: Bench, cli_env: Path) -> None:
    """A run over every asset (schedule, "Materialize all") leaves production where it is."""
    from jh_pipeline.definitions import build_definitions
    from jh_pipeline.defs.context import repo_root
    from jh_pipeline.defs.resources import resources_from_settings
    from jh_pipeline.settings import load_pipeline_settings

    release_both(bench)
    settings = load_pipeline_settings(repo_root())
    defs = build_definitions(settings=settings)
    result = dg.materialize(list(defs.assets or []), selection=[dg.AssetKey([CLASS, "production"])],
                            instance=dg.DagsterInstance.ephemeral(), resources=resources_from_settings(settings))
    assert result.success and result.get_asset_materialization_events() == []
    assert bench.digest(PRODUCTION) is None and read_log(bench.store, bench.semester, CLASS) == []


def test_interrupted_moves_converge_on_rerun(bench: Bench, tmp_path: Path) -> None:
    release_both(bench)

    def move(action: str, registry: object | None = None) -> None:
        move_production(bench.store, registry or bench.docker, semester=bench.semester, class_key=CLASS,  # type: ignore[arg-type]
                        action=action, target=None, by=ACTOR, catalog=bench.catalog, log=lambda _: None)

    move_production(bench.store, bench.docker, semester=bench.semester, class_key=CLASS, action="promote",
                    target=TAG_A, by=ACTOR, catalog=bench.catalog, log=lambda _: None)
    saved = snapshot(bench.store, tmp_path / "saved")
    with store_faults(bench.store) as trace:
        move("promote")  # A -> B (latest)
    points = interruption_points(trace)
    assert len(points) >= 5

    for action, start, goal in (("promote", TAG_A, TAG_B), ("rollback", TAG_B, TAG_A)):
        if action == "rollback":  # the promote cases ended with production A -> B: roll back to A
            assert [m.set_id for m in read_log(bench.store, bench.semester, CLASS)] == [TAG_A, TAG_B]
            saved = snapshot(bench.store, tmp_path / "saved-rollback")
        for writes, pushes in [(n, None) for n in points] + [(None, 0)]:
            restore(bench.store, saved, trace)
            bench.docker.retag_and_push(f"{bench.repository}:{start}", [f"{bench.repository}:production"], lambda _: None)
            with pytest.raises(Interrupted), store_faults(bench.store, budget=writes):
                move(action, FlakyRegistry(bench.docker, pushes_left=pushes))
            got = bench.store.read_pointer_set(bench.semester, CLASS, PRODUCTION)
            assert got is not None and got[0].set_id in (start, goal)  # never a mixed or partial set
            assert read_log(bench.store, bench.semester, CLASS)[-1].set_id == start  # the log is written last
            move(action)  # the same command again: the same target
            assert_production(bench, goal)
            moves = read_log(bench.store, bench.semester, CLASS)
            assert moves[-1].action == action and moves[-1].from_set == start
            assert [m.set_id for m in moves].count(goal) == (1 if action == "promote" else 2), (action, writes, pushes)
