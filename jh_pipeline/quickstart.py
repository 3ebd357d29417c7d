"""`jh-pipeline quickstart`: one example class end to end on the embedded defaults.

Local artifact store, local Docker engine, a local registry on 127.0.0.1:5000. When the public
package servers answer it builds a class of this repository from them; when they do not (air-gapped
sites, this project's CI machine) it uses the offline profile: the local conda channel, the local
foundation base image and the example class in examples/offline/.

`start_profile` sets a profile up (engine, registry, channel, settings); `jh-pipeline ui` uses the
same function, so the UI runs with exactly the quickstart's settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jh_pipeline.catalog import Catalog, load_catalog
from jh_pipeline.processes import kill_pid, pid_alive
from jh_pipeline.offline import build_channel, serve_channel
from jh_pipeline.offline.channel import offline_cache_dir
from jh_pipeline.store import LocalStore

REPO = Path(__file__).resolve().parents[1]
# The embedded defaults; the test suite moves them aside (ports, folder) to run next to other work.
REGISTRY_PORT = int(os.environ.get("JH_QUICKSTART_REGISTRY_PORT", "5000"))
REGISTRY = f"127.0.0.1:{REGISTRY_PORT}"
PROBE_URL = "https://conda.anaconda.org/conda-forge/noarch/repodata.json"
FOUNDATION_IMAGE = "jh-local/foundation:latest"
# A fixed port: the channel URL is part of each env's content hash, so a second run finds its sets.
CHANNEL_PORT = int(os.environ.get("JH_OFFLINE_CHANNEL_PORT", "8765"))
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
STEPS = ("conda_env", "image", "release")
COMMON_STEPS = ("common/server_env", "common/server_image")
# A local instance: no telemetry (air-gapped sites), no onboarding dialog over the UI.
DAGSTER_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def public_endpoints_reachable(url: str = PROBE_URL, timeout: float = 5) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class Profile:
    name: str
    requirements: Path
    class_key: str
    env: dict[str, str] = field(default_factory=dict)
    stop: Callable[[], None] = lambda: None


@dataclass
class Session:
    """A profile set up and running: what `dagster` needs (env) and what was started for it."""

    profile: Profile
    work: Path
    home: Path
    store_dir: Path
    env: dict[str, str]
    # Stand-ins this call started (not ones already running): name -> PID, stopped by `stop_all`.
    started: dict[str, int] = field(default_factory=dict)

    def stop_all(self, grace: float = 15.0) -> None:
        """Stop the channel server, then every process this session started, by PID."""
        self.profile.stop()
        for pid in self.started.values():
            kill_pid(pid, grace)


def quickstart_dir() -> Path:
    return Path(os.environ.get("JH_QUICKSTART_DIR") or REPO / ".jh_quickstart")


def _say(step: int, total: int, text: str) -> None:
    print(f"[{step}/{total}] {text}", flush=True)


def _script(name: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / name)], env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, text=True, check=True,
    )
    return proc.stdout.strip()


def _last_pid(stdout: str) -> int | None:
    lines = stdout.splitlines()
    return int(lines[-1]) if lines and lines[-1].strip().isdigit() else None


def _pid_in(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def offline_profile(work: Path) -> Profile:
    print("    offline profile: the public package servers do not answer; using local stand-ins", flush=True)
    print("    building the local conda channel (cached under ~/.cache/jh_pipeline)", flush=True)
    channel = build_channel(work / "channel" / "jh-offline", cache=offline_cache_dir())
    url, stop = serve_channel(channel.path, port=CHANNEL_PORT)
    print(f"    serving it at {url}; building the local base and foundation images", flush=True)
    try:
        _script("build-local-base.sh")
        _script("build-foundation.sh")
    except BaseException:
        stop()
        raise
    env = {
        "JH_CHANNEL_MAP": f"conda-forge={url}",
        "JH_BASE_IMAGE": FOUNDATION_IMAGE,
    }
    if HOST_CA.is_file():
        env["JH_EXTRA_CA_BUNDLE"] = str(HOST_CA)  # pip in the build trusts what the host trusts
    return Profile("offline", REPO / "examples" / "offline" / "requirements", "demo", env, stop)


def start_profile(say: Callable[[str], None], offline: bool | None = None, class_key: str | None = None,
                  catalog: Catalog | None = None) -> Session:
    """Engine, registry, profile (channel and foundation for offline) and the settings for `dagster`.

    `say` announces each of the two steps. The caller stops the session (`stop_all` for everything it
    started, or `profile.stop()` to leave engine and registry running for a later `docker pull`).
    """
    work = quickstart_dir()
    work.mkdir(parents=True, exist_ok=True)
    started: dict[str, int] = {}

    say("starting the Docker engine and the local registry")
    dockerd = _last_pid(_script("start-dockerd.sh"))  # a PID only when it started one
    if dockerd is not None:
        started["dockerd"] = dockerd
    registry_dir = work / "registry"
    running = _pid_in(registry_dir / "registry.pid")
    try:
        registry = _last_pid(_script("start-registry.sh", {"PORT": str(REGISTRY_PORT),
                                                           "JH_REGISTRY_STATE_DIR": str(registry_dir)}))
        if registry is not None and registry != running:
            started["registry"] = registry

        say("choosing the profile")
        use_offline = not public_endpoints_reachable() if offline is None else offline
        if use_offline:
            profile = offline_profile(work)
        else:
            catalog = catalog or load_catalog(REPO / "requirements")
            profile = Profile("online", REPO / "requirements", class_key or min(catalog.classes))
            print(f"    online profile: public endpoints, class {profile.class_key}", flush=True)
    except BaseException:
        for pid in started.values():
            kill_pid(pid)
        raise
    if class_key and use_offline and class_key != profile.class_key:
        print(f"    (--class {class_key} ignored: the offline profile builds its example class)", flush=True)

    home = work / "dagster_home"
    home.mkdir(exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    store_dir = work / "artifacts"
    env = {
        **os.environ, **profile.env,
        "DAGSTER_HOME": str(home), "JH_STORE_DIR": str(store_dir), "JH_REGISTRY": REGISTRY,
        "JH_REQUIREMENTS_DIR": str(profile.requirements),
    }
    return Session(profile, work, home, store_dir, env, started)


def _materialize(profile: Profile, env: dict[str, str]) -> int:
    selection = ",".join([*COMMON_STEPS, *(f"{profile.class_key}/{step}" for step in STEPS)])
    total = len(COMMON_STEPS) + len(STEPS)
    cmd = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "jh_pipeline.definitions",
           "--select", selection]
    done = 0
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        # Show our log lines (build output included) and step ends; Dagster's debug events stay quiet.
        if " - STEP_SUCCESS - " in line:
            done += 1
            print(f"    [{done}/{total} steps done] {line.split(' - ')[-1].strip()}", flush=True)
        elif " - STEP_FAILURE - " in line or " - ERROR - " in line:
            print("    " + line.rstrip(), flush=True)
        elif " - INFO - " in line:
            print("    " + line.rstrip().split(" - ", 5)[-1], flush=True)
    return proc.wait()


def run_quickstart(class_key: str | None = None, offline: bool | None = None) -> int:
    total = 5
    step = iter(range(2, total))

    _say(1, total, "validating requirements/")
    catalog = load_catalog(REPO / "requirements")
    findings = catalog.all_findings()
    errors = sum(f.is_error for f in findings)
    print(f"    {len(catalog.classes)} classes: {errors} error(s), {len(findings) - errors} warning(s) "
          "(details: jh-pipeline validate)", flush=True)

    # Engine and registry are left running afterwards, so the image can be pulled; the registry's
    # pid file is in <quickstart dir>/registry.
    session = start_profile(lambda text: _say(next(step), total, text), offline, class_key, catalog)
    profile = session.profile
    try:
        _say(4, total, f"materializing the shared server image, then {profile.class_key}: env files, image, "
             "checks, release")
        status = _materialize(profile, session.env)
    finally:
        profile.stop()

    _say(5, total, "results" if status == 0 else "FAILED (see the lines above)")
    store = LocalStore(session.store_dir)
    latest = [k for k in store.list() if "/latest/" in k]
    print(f"    profile:      {profile.name}")
    print(f"    env files:    {session.store_dir}")
    for key in latest:
        print(f"                  {key}")
    if status == 0:
        print(f"    image:        {REGISTRY}/{profile.class_key}:latest")
        print(f"    run it:       docker run -it --rm --network host {REGISTRY}/{profile.class_key}:latest "
              "start-notebook.sh --ip 127.0.0.1 --port 8888")
    print(f"    Dagster UI:   .venv/bin/jh-pipeline ui --{profile.name}  (the same settings and stand-ins; "
          "then http://127.0.0.1:3000)")
    return status
