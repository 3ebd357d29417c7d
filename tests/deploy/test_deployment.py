"""The long-running deployment, started for real: PostgreSQL, code location, webserver, daemon, and
each run in its own container of the deployment image (tests/deploy/deployment.py says how).

Everything is observed as an operator would: through the webserver's GraphQL API (runs, their tags,
asset selections, start and end times, engine events), the Docker engine, the registry and the
artifact store. The tests run in file order on one deployment; each leaves no run in progress.
Three tiny classes (the demo class of tests/support and two that hold only ipykernel) keep the
builds short; their server image is the one of the other e2e tests (same common lists).
"""

from __future__ import annotations

import signal
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import docker
import pytest

from jh_pipeline.defs.automation import CLASS_TAG, SEMESTER_TAG, class_sensor_name
from jh_pipeline.defs.keys import COMMON_SET
from jh_pipeline.defs.resources import force_run_config
from jh_pipeline.store import LocalStore
from tests.catalog.conftest import write_tree
from tests.defs.conftest import copy_inputs
from tests.defs.e2e import E2E_COMMON
from tests.support.common import SEMESTER
from tests.deploy.deployment import Deployment, Run, Settings, build_image, deployment_root, start, wait_for
from tests.support.pipeline import demo_class

MAX_RUNS = 2
CONTAINER_TAG = "docker/container_id"
CLASSES = ("alpha", "beta", "demo")
COMMON_ASSETS = {"common/server_env", "common/server_image"}
OBSERVED = ("common/requirements", "demo/requirements")
MANIFESTS = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json",
])


def tiny_class() -> dict[str, str]:
    return {"class.yaml": f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\n',
            "requirements.txt": "ipykernel\n"}


def class_assets(key: str) -> set[str]:
    return {f"{key}/conda_env", f"{key}/image", f"{key}/release"}


@pytest.fixture(scope="module")
def deployment(docker_engine: docker.DockerClient, registry: str, local_channel: Any, foundation_image: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    image = build_image(foundation_image, tmp_path_factory.mktemp("deploy-image") / "build.log")
    root = deployment_root()
    repo = copy_inputs(root / "repo")
    (repo / "requirements").rename(root / "seeded")  # only the classes of this test
    # alpha and beta join for the semester tick (its test adds them): the sensors would otherwise build
    # them once at start, and the tick's forced runs then again.
    write_tree(repo / "requirements", dict(E2E_COMMON), {"demo": demo_class()})
    store = root / "store"
    store.mkdir()
    settings = Settings(registry=registry, channel_url=local_channel.url, foundation=foundation_image, image=image,
                        max_runs=MAX_RUNS)
    yield from start(root, repo, store, settings)
    # Run containers are removed by nobody else: ours carry the launcher's label and this run's ids.
    for container in docker_engine.containers.list(all=True, filters={"label": "org.jh_pipeline.role=run"}):
        if container.attrs["Config"]["Image"] == image:
            container.remove(force=True)


def test_the_deployment_image_holds_no_build_only_file(deployment: Deployment, docker_engine: docker.DockerClient,
                                                        foundation_image: str) -> None:
    """The host CA went into the build context (scripts/deploy/build-image.sh --ca) for pip only:
    none of the layers the deployment image adds on its base was made from it."""
    image = docker_engine.images.get(deployment.env["DAGSTER_CURRENT_IMAGE"])
    base_layers = len(docker_engine.images.get(foundation_image).history())
    own = [step["CreatedBy"] for step in image.history()[: len(image.history()) - base_layers]]
    assert own and any("COPY --from=" in step or "COPY dir:" in step or "COPY file:" in step for step in own)
    assert not [step for step in own if "build-ca" in step or "pip-install.sh" in step], own
    out = docker_engine.containers.run(image.id, entrypoint=["sh", "-c", "ls /tmp; ls /opt/dagster/app/deploy"],
                                       remove=True, network_mode="host").decode()
    assert "build-ca" not in out and "bundle.pem" not in out and "extra.crt" not in out, out


def registry_digest(registry: str, repository: str, tag: str) -> str:
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{tag}", method="HEAD",
                                     headers={"Accept": MANIFESTS})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def assert_idle(dep: Deployment, quiet: float = 20.0) -> list[Run]:
    """No run in progress nor queued, for `quiet` seconds (a few sensor evaluations): nothing stays
    STARTED, and the sensors have nothing left to do."""
    since: list[float] = []

    def idle() -> list[Run] | None:
        runs = dep.runs()
        if any(r.running or r.status == "QUEUED" for r in runs):
            since.clear()
            return None
        since[:] = since or [time.monotonic()]
        return runs if time.monotonic() - since[0] >= quiet else None

    return wait_for("every run to end", idle, 900, 2.0, dep.logs)


def overlapping(runs: list[Run]) -> int:
    """The most runs whose [start, end] intervals overlap at one moment."""
    edges = sorted([(r.start, 1) for r in runs if r.start] + [(r.end, -1) for r in runs if r.start and r.end])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_a_materialization_launched_from_the_ui_runs_in_its_own_container(
    deployment: Deployment, docker_engine: docker.DockerClient, registry: str,
) -> None:
    dep = deployment
    run_id = dep.launch(sorted(COMMON_ASSETS | class_assets("demo")))
    run = dep.wait_done(run_id, 1200)
    assert run.status == "SUCCESS", dep.engine_messages(run_id)[-20:]
    assert run.assets == COMMON_ASSETS | class_assets("demo")
    assert run.tags[CLASS_TAG] == "demo"  # given by the run coordinator (the UI sets no such tag)
    container_id = run.tags[CONTAINER_TAG]  # DockerRunLauncher records the run's container
    container = docker_engine.containers.get(container_id)
    assert container.attrs["Config"]["Image"] == dep.env["DAGSTER_CURRENT_IMAGE"]
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    assert container.attrs["State"]["ExitCode"] == 0
    # Released: registry and store agree on what `latest` is.
    latest = LocalStore(dep.store).read_latest_manifest(SEMESTER, "demo")
    assert latest is not None
    assert registry_digest(registry, "demo", "latest") == registry_digest(registry, "demo", latest.set_id)
    assert_idle(dep)


def test_editing_one_class_folder_makes_the_sensor_build_only_that_class(deployment: Deployment) -> None:
    dep = deployment
    # First let the sensors finish what the start asked for: then every run that follows the edit is
    # the edit's. The folders are first observed at the first JH_OBSERVE_CRON tick after the start;
    # that observation can make the common sensor ask for the shared assets and the demo sensor for
    # demo (unless the UI run of the test before built them after it). So: wait for that observation,
    # then for both sensors to have evaluated after it, then for idle. (Waiting for a run of the
    # shared assets is not enough: the UI launch of the test before is one.)
    observed = wait_for("the first observation of the folders",
                        lambda: (t := [dep.observed_at(a) for a in OBSERVED]) and all(t) and max(t), 240, 2.0, dep.logs)
    for sensor in (class_sensor_name(COMMON_SET), class_sensor_name("demo")):
        wait_for(f"{sensor} to evaluate after the observation",
                 lambda name=sensor: (dep.last_tick(name) or 0) > observed, 120, 2.0, dep.logs)
    before = {r.run_id for r in assert_idle(dep)}
    path = dep.repo / "requirements" / "classes" / "demo" / "requirements.txt"
    path.write_text(path.read_text() + "# edited: the folder hash moves, the env inputs do not\n")

    def class_run() -> Run | None:
        new = [r for r in dep.runs() if r.run_id not in before and r.assets & class_assets("demo")]
        return new[0] if new else None

    # Observed by classes_on_change (no run), then requested by classes_on_change__demo: the env first
    # (its inputs did not change, so it is a no-op that records a new materialization), and the image
    # and release in the same run or in the runs the sensor asks for next.
    wait_for("the sensor's run for demo", class_run, 120, 2.0, dep.logs)
    launched = [r for r in assert_idle(dep) if r.run_id not in before]
    assert launched and all(r.status == "SUCCESS" for r in launched), [(r.run_id, r.status) for r in launched]
    for run in launched:  # only that class: no other class, no common asset
        assert run.assets <= class_assets("demo"), run.assets
        assert run.tags[CLASS_TAG] == "demo"
        assert run.tags["dagster/sensor_name"] == "classes_on_change__demo"
    assert "demo/conda_env" in set().union(*(r.assets for r in launched))


def test_a_killed_daemon_and_run_container_leave_no_run_started(
    deployment: Deployment, docker_engine: docker.DockerClient, registry: str,
) -> None:
    dep = deployment
    run_id = dep.launch(sorted(class_assets("demo")))

    def started() -> Run | None:
        run = dep.run(run_id)
        assert not run.done, f"run {run_id} ended ({run.status}) before it could be killed"
        return run if run.status == "STARTED" else None

    wait_for("the run to start", started, 180, 0.3, dep.logs)
    container_id = dep.run(run_id).tags[CONTAINER_TAG]
    dep.kill("daemon", signal.SIGKILL)  # by PID (its own process group), mid-run
    docker_engine.containers.get(container_id).kill()  # the run worker dies without a word
    time.sleep(2 * dep_poll(dep))
    assert dep.run(run_id).status == "STARTED"  # what it would stay forever without run monitoring
    dep.start_daemon()

    failed = wait_for("run monitoring to fail the orphaned run",
                      lambda: (r := dep.run(run_id)).done and r, 120, 2.0, dep.logs)
    assert failed.status == "FAILURE"
    # run_retries: a new run of the same selection and tags, which converges.
    retry = wait_for("the retry", lambda: next((r for r in dep.runs() if r.tags.get("dagster/parent_run_id") == run_id),
                                               None), 120, 2.0, dep.logs)
    retry = dep.wait_done(retry.run_id, 600)
    assert retry.status == "SUCCESS", dep.engine_messages(retry.run_id)[-20:]
    assert retry.assets == class_assets("demo") and retry.tags[CLASS_TAG] == "demo"
    runs = assert_idle(dep)
    assert not [r for r in runs if r.status in ("STARTED", "STARTING")]
    latest = LocalStore(dep.store).read_latest_manifest(SEMESTER, "demo")
    assert latest is not None
    assert registry_digest(registry, "demo", "latest") == registry_digest(registry, "demo", latest.set_id)


def dep_poll(dep: Deployment) -> int:
    return int(dep.env["JH_RUN_MONITOR_POLL_SECONDS"])


def test_a_semester_tick_runs_the_shared_assets_then_one_run_per_class_under_the_limits(
    deployment: Deployment,
) -> None:
    dep = deployment
    before = {r.run_id for r in dep.runs()}
    # The schedule's cron is read when the code location loads: restart it (and the daemon, which
    # reads the schedules) with the coming minute, at least 30 s away.
    tick = (datetime.now(timezone.utc) + timedelta(seconds=90)).replace(second=0, microsecond=0)
    dep.kill("daemon", signal.SIGTERM)
    dep.kill("codelocation", signal.SIGTERM)
    dep.env["JH_SEMESTER_CRON"] = f"{tick.minute} {tick.hour} * * *"
    # Two more classes, never built: only the tick builds them (their folders are not observed before
    # it, so their sensors ask for nothing).
    write_tree(dep.repo / "requirements", {}, {"alpha": tiny_class(), "beta": tiny_class()})
    dep.env["JH_OBSERVE_CRON"] = "0 0 1 1 *"
    dep.start_code_server()
    dep.start_daemon()
    dep.graphql('mutation { reloadRepositoryLocation(repositoryLocationName: "jh_pipeline") { __typename } }')

    def semester_runs() -> list[Run]:
        return [r for r in dep.runs() if r.run_id not in before and SEMESTER_TAG in r.tags]

    common = wait_for("the tick's run", lambda: next((r for r in semester_runs() if r.tags[CLASS_TAG] == "common"),
                                                     None), 240, 3.0, dep.logs)
    assert common.tags["dagster/schedule_name"] == "semester_rebuild_schedule"
    assert common.run_config == force_run_config()
    assert common.assets == COMMON_ASSETS
    common = dep.wait_done(common.run_id, 900)
    assert common.status == "SUCCESS", dep.engine_messages(common.run_id)[-20:]

    # Then one run per class; while they run, a second request for a class waits in the queue.
    first = wait_for("the class runs", lambda: (rs := [r for r in semester_runs() if r.tags[CLASS_TAG] != "common"])
                     and len(rs) == len(CLASSES) and rs, 180, 2.0, dep.logs)
    busy = wait_for("a class run in progress", lambda: next((r for r in dep.runs() if r.run_id in {x.run_id for x in first}
                                                             and r.status == "STARTED"), None), 300, 1.0, dep.logs)
    key = busy.tags[CLASS_TAG]
    second_id = dep.launch(sorted(class_assets(key)))  # as from the UI: the coordinator tags it
    peak = 0
    deadline = time.monotonic() + 1500
    while time.monotonic() < deadline:
        runs = dep.runs()
        ours = [r for r in runs if r.run_id in {x.run_id for x in first} | {second_id}]
        peak = max(peak, sum(r.running for r in runs))
        if all(r.done for r in ours):
            break
        time.sleep(1.0)
    else:
        pytest.fail("the semester runs did not end\n" + dep.logs())

    runs = {r.run_id: r for r in dep.runs()}
    classes = [runs[r.run_id] for r in first]
    assert sorted(r.tags[CLASS_TAG] for r in classes) == sorted(CLASSES)
    for run in classes:
        key_ = run.tags[CLASS_TAG]
        assert run.status == "SUCCESS", (key_, dep.engine_messages(run.run_id)[-20:])
        assert run.assets == class_assets(key_)
        assert run.run_config == force_run_config() and run.tags[SEMESTER_TAG] == common.tags[SEMESTER_TAG]
        assert run.tags["dagster/sensor_name"] == "semester_rebuild_classes"
        assert run.start is not None and common.end is not None and run.start >= common.end
    # At most N at once, and the same class never twice at once.
    assert peak <= MAX_RUNS
    assert overlapping(classes) <= MAX_RUNS
    second = runs[second_id]
    assert second.status == "SUCCESS"
    assert second.start is not None and busy.run_id in runs and runs[busy.run_id].end is not None
    assert second.start >= runs[busy.run_id].end  # it waited for the first run of its class
    assert_idle(dep)
