"""The emulator helper stops exactly the process it started, by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

from tests.support.gcs import run_gcs_emulator, stop_process


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_emulator_answers_then_is_stopped() -> None:
    with run_gcs_emulator() as (url, proc):
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/", timeout=5) as resp:
            assert resp.read() == b"OK"
    assert proc.returncode is not None
    assert _gone(proc.pid)


def test_stop_process_kills_when_sigterm_is_ignored() -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        assert stop_process(proc, timeout=0.3) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    assert _gone(proc.pid)


def test_fixture_yields_host_url(gcs_emulator: str) -> None:
    with urllib.request.urlopen(f"{gcs_emulator}/", timeout=5) as resp:
        assert resp.status == 200
