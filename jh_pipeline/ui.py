"""`jh-pipeline ui`: the Dagster UI (webserver and daemon, `dagster dev`) on the quickstart's profile.

The same settings and stand-ins as `jh-pipeline quickstart` (quickstart.start_profile): Docker
engine, local registry, and for the offline profile the local conda channel, all running for as long
as the UI runs. On exit (Ctrl-C, SIGTERM) it stops what it started, by PID: `dagster dev` and its
process group (SIGKILL after a grace period), the channel server, and the registry or engine when
this command started them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from jh_pipeline.processes import pid_alive
from jh_pipeline.quickstart import REPO, Session, start_profile

READY_SECONDS = 300.0  # code location load on 2 busy cores
GRACE_SECONDS = 30.0  # dagster dev waits for its webserver and daemon itself
ASSET_QUERY = json.dumps({"query": "{ assetNodes { id } }"}).encode()


class Stop(Exception):
    """SIGTERM or SIGHUP: leave the wait loop and clean up like Ctrl-C."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def group_members(pgid: int) -> list[int]:
    """PIDs of the live processes in process group `pgid` (from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop_group(proc: subprocess.Popen[bytes], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM `dagster dev` (it shuts its webserver and daemon down), then SIGKILL its group."""
    pgid = proc.pid  # start_new_session: the group is ours alone
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # Whatever is left in the group (a code server, a run worker, or dagster dev itself).
    if group_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _hold_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _ui_ready(base: str) -> bool:
    """The code location answers with asset nodes (an open port alone is not enough)."""
    request = urllib.request.Request(f"{base}/graphql", ASSET_QUERY, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return bool((json.load(response).get("data") or {}).get("assetNodes"))
    except (OSError, ValueError):
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _serve(session: Session, host: str, port: int) -> int:
    base = f"http://{host}:{port}"
    log_path = session.work / "dagster-dev.log"
    cmd = [str(Path(sys.executable).with_name("dagster")), "dev", "-m", "jh_pipeline.definitions",
           "-h", host, "-p", str(port)]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=session.env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        print(f"    dagster dev: pid {proc.pid} (process group {proc.pid}), log {log_path}", flush=True)
        deadline = time.monotonic() + READY_SECONDS
        while not _ui_ready(base):
            if proc.poll() is not None:
                print(f"error: dagster dev exited with {proc.returncode}:\n{_tail(log_path)}", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print(f"error: the Dagster UI did not answer within {READY_SECONDS:.0f} s:\n{_tail(log_path)}",
                      file=sys.stderr)
                return 1
            time.sleep(0.5)
        print(f"    Dagster UI:   {base}", flush=True)
        print(f"    profile {session.profile.name}: requirements {session.profile.requirements}, "
              f"DAGSTER_HOME {session.home}, env files {session.store_dir}", flush=True)
        print("    Ctrl-C stops the UI and what this command started", flush=True)
        while proc.poll() is None:
            time.sleep(0.5)
        print(f"error: dagster dev exited with {proc.returncode}:\n{_tail(log_path)}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stop):
        print("\n    stopping the Dagster UI", flush=True)
        return 0
    finally:
        _hold_signals()  # a second Ctrl-C must not cut the cleanup short
        stop_group(proc)


def run_ui(offline: bool | None = None, port: int = 3000, host: str = "127.0.0.1") -> int:
    total = 3
    step = iter(range(1, total + 1))

    def say(text: str) -> None:
        print(f"[{next(step)}/{total}] {text}", flush=True)

    # SIGTERM (and SIGHUP: the terminal closed) clean up like Ctrl-C.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGHUP, _raise_stop)
    # Also when started with SIGINT ignored (`cmd &` in a script): the ignore would pass to dagster
    # dev, which maps SIGTERM to its SIGINT handler and so could not be stopped by a signal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    session: Session | None = None
    try:
        session = start_profile(say, offline)
        if session.started:
            print("    started (stopped on exit): "
                  + ", ".join(f"{name} pid {pid}" for name, pid in session.started.items()), flush=True)
        say(f"starting the Dagster UI (webserver and daemon) on {host}:{port}")
        return _serve(session, host, port)
    except (KeyboardInterrupt, Stop):
        return 130
    finally:
        _hold_signals()
        try:
            if session is not None:
                session.stop_all()
                left = [f"{name} pid {pid}" for name, pid in session.started.items() if pid_alive(pid)]
                if left:
                    print(f"warning: still running: {', '.join(left)}", file=sys.stderr)
                else:
                    print("    stopped the Dagster UI and what this command started", flush=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
